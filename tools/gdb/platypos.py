# gdb commands for looking inside a running PlatypOS: the scheduler's CPUs, processes and tasks, and the simulator's
# CPUs (virtual clocks, states). Works on a hosted run (platypos-sim, unit tests) and on the kernel in QEMU.
#
#   (gdb) source tools/gdb/platypos.py      (the project's gdbinit files do this)
#   (gdb) platypos-cpus                     one line per CPU: role, owner process, running task, counters
#   (gdb) platypos-tasks                    every process and task: state, CPU, dispatches, preemptions
#   (gdb) platypos-sim                      the simulator's CPUs: virtual clock, state, armed timer (sim mode only)
#
# They read memory only, so they work at any breakpoint, in any frame.

import gdb


def _str(v):
    try:
        return v.string()
    except gdb.error:
        return "?"


def _scheduler():
    s = gdb.parse_and_eval("platypos::sched::g_scheduler")
    if int(s) == 0:
        raise gdb.GdbError("no scheduler installed (platypos::sched::g_scheduler is null)")
    return s.dereference()


def _enum_name(v):
    text = str(v)
    return text.split("::")[-1]


def _list_items(lst, elem_type):
    """Elements of an IntrusiveList<T, Tag>: walk the circular links from the sentinel, casting nodes to T*."""
    sentinel = lst["sentinel_"]
    sentinel_addr = int(sentinel.address)
    node = sentinel["next_"]
    out = []
    guard = 0
    while int(node) != 0 and int(node) != sentinel_addr and guard < 100000:
        out.append(node.cast(elem_type.pointer()).dereference())
        node = node["next_"]
        guard += 1
    return out


class PlatypCpus(gdb.Command):
    """List the scheduler's CPUs: role, owner, running task, switches, preemptions, idle time."""

    def __init__(self):
        super().__init__("platypos-cpus", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        s = _scheduler()
        cfg = s["config_"]
        n = int(cfg["cpus"])
        print("policy %s, %d cpus, %d kernel cores" % (_enum_name(cfg["policy"]), n, int(cfg["kernel_cores"])))
        print("%-4s %-13s %-14s %-24s %10s %11s %14s" % ("cpu", "role", "owner", "running", "switches",
                                                         "preemptions", "idle ns"))
        for c in range(n):
            cpu = s["cpus_"][c]
            owner = cpu["owner"]
            owner_name = _str(owner["name_"]) if int(owner) != 0 else "-"
            cur = cpu["current"]
            running = "(idle loop)" if int(cur) == 0 else "%s #%d" % (_str(cur["name_"]), int(cur["id_"]))
            st = cpu["stats"]
            print("%-4d %-13s %-14s %-24s %10d %11d %14d" % (c, _enum_name(cpu["role"]), owner_name, running,
                                                             int(st["switches"]), int(st["preemptions"]),
                                                             int(st["idle_ns"])))


def _atomic_bool(v):
    """The value of a std::atomic<bool> (libstdc++ keeps it in _M_base._M_i), or of a plain bool."""
    try:
        return bool(int(v["_M_base"]["_M_i"]))
    except gdb.error:
        return bool(int(v))


def _handles_of(pid):
    """'used/capacity handles' from the process table (proc::ProcessTable) for process `pid`."""
    try:
        table = gdb.parse_and_eval("platypos::proc::g_process_table")
    except gdb.error:
        return "no process table"
    if int(table) == 0:
        return "no process table"
    slot = table.dereference()["processes_"][pid & 0xff]
    if int(slot["id_"]) != pid:
        return "no handle table"
    handles = slot["handles_"]
    return "%d/%d handles" % (int(handles["count_"]), int(handles["capacity_"]))


class PlatypTasks(gdb.Command):
    """List every process and its tasks, then the kernel tasks: state, CPU, dispatches, preemptions, wakeups."""

    def __init__(self):
        super().__init__("platypos-tasks", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        s = _scheduler()
        task_t = gdb.lookup_type("platypos::sched::Task")

        def show(t):
            st = t["stats_"]
            print("    #%-5d %-22s %-8s cpu %-3d dispatches %-8d preemptions %-6d wakeups %d%s" % (
                int(t["id_"]), _str(t["name_"]), _enum_name(t["state_"]), int(t["cpu_"]), int(st["dispatches"]),
                int(st["preemptions"]), int(st["wakeups"]), "  [killed]" if _atomic_bool(t["killed_"]) else ""))

        procs = s["processes_"]
        count = procs.type.range()[1] + 1
        for i in range(count):
            p = procs[i]
            state = _enum_name(p["state_"])
            if state not in ("running", "exiting"):
                continue
            acct = p["account_"]
            reserved = used = 0
            if int(acct) != 0:
                res = acct.dereference()["reservation_"]
                reserved, used = int(res["quota_pages_"]) * 4, int(res["used_pages_"]) * 4
            print("process %#x %s (%s): %d live tasks, %d cores, %d KiB reserved, %d KiB used, %s" % (
                int(p["id_"]), _str(p["name_"]), state, int(p["live_tasks_"]), int(p["core_count_"]),
                reserved, used, _handles_of(int(p["id_"]))))
            for t in _list_items(p["tasks_"], task_t):
                show(t)
        kernel = _list_items(s["kernel_tasks_"], task_t)
        print("kernel: %d tasks" % len(kernel))
        for t in kernel:
            show(t)


class PlatypSim(gdb.Command):
    """List the simulator's CPUs (sim mode): virtual clock, state, armed timer, pending wake-up."""

    def __init__(self):
        super().__init__("platypos-sim", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        sim = gdb.parse_and_eval("platypos::hosted::g_sim")
        if int(sim) == 0:
            raise gdb.GdbError("no simulation running (platypos::hosted::g_sim is null)")
        sim = sim.dereference()
        vec = sim["cpus_"]["_M_impl"]
        start, finish = vec["_M_start"], vec["_M_finish"]
        n = int(finish - start)
        print("simulation: %d cpus, running cpu %d, %d events, seed %d" % (
            n, int(sim["current_"]), int(sim["events_"]), int(sim["config_"]["seed"])))
        print("%-4s %-10s %18s %18s %6s" % ("cpu", "state", "clock ns", "timer ns", "wake"))
        cpu_ptr_t = gdb.lookup_type("platypos::hosted::SimMachine::Cpu").pointer()
        for i in range(n):
            # A std::unique_ptr<Cpu> with the default deleter is just the pointer.
            c = (start + i).cast(cpu_ptr_t.pointer()).dereference().dereference()
            print("%-4d %-10s %18d %18d %6s" % (int(c["id"]), _enum_name(c["state"]), int(c["clock"]),
                                                int(c["deadline"]), "yes" if bool(c["wake_pending"]) else ""))


PlatypCpus()
PlatypTasks()
PlatypSim()
