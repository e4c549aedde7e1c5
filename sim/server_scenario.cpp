// The `server` scenario: PlatypOS's thesis in one run.
//
// Two server processes ("web" and "api") each own dedicated app cores and run one worker task per core. Requests
// arrive as a Poisson stream at `load` times each server's capacity (cores / mean service time); a kernel task per
// server generates them (open loop: latency is measured from the intended arrival time, so a late generator does
// not hide queueing). A worker takes a request, burns its service time on the CPU (Platform::delay_ns: exact in
// virtual time), and records the latency. Next to them, a CPU-hungry noisy neighbour ("batch") runs as many tasks
// as the machine has CPUs, each computing 10 ms between yields, forever.
//
// Under the dedicated policy the neighbour is confined to its own cores. Under the timeshare policy every task
// shares every core, round-robin with a quantum: requests wait behind the neighbour's slices. The summary shows
// the difference in p50/p99/p999.
//
// Until the system-call rings exist, the requests are handed over through a kernel-side queue and a WaitQueue.

#include <platypos/base/histogram.hpp>
#include <platypos/sched/wait_queue.hpp>
#include <platypos/sync/spinlock.hpp>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <deque>
#include <memory>
#include <random>
#include <vector>

#include "scenario.hpp"
#include "server_scenario.hpp"

namespace platypos::simtool {
namespace {

using sched::ProcessId;
using sched::Scheduler;
using sched::WaitQueue;

struct Request {
  u64 arrival_ns;
  u64 service_ns;
};

struct Server {
  const char* name;
  u32 cores;
  u64 mean_service_ns;
  ProcessId pid = sched::kNoProcess;
  double rate_per_ns = 0;  // arrivals per nanosecond
  // The request queue: generator -> workers.
  SpinLock lock{"request queue"};
  std::deque<Request> queue;
  WaitQueue idle_workers{"idle workers"};
  u32 busy = 0;
  bool generator_done = false;
  u64 generated = 0;
  std::vector<LatencyHistogram> per_worker;  // one per worker: no sharing on the hot path
  u64 seed = 0;
};

struct Neighbour {
  const char* name = "batch";
  u32 cores = 0;
  ProcessId pid = sched::kNoProcess;
  std::vector<u64> units;  // work units done, per task
};

struct World {
  const Options* opt = nullptr;
  Scheduler* sched = nullptr;
  std::vector<std::unique_ptr<Server>> servers;
  Neighbour batch;
  u64 start_ns = 0;  // Platform time when the run starts (0 in sim mode; the monotonic clock in threads mode)
  u64 end_ns = 0;    // the last request done
  u64 stop_ns = 0;   // every process gone, the scheduler told to stop
};

struct WorkerArg {
  Server* server;
  usize index;
};

void worker(void* arg) {
  auto* wa = static_cast<WorkerArg*>(arg);
  Server& s = *wa->server;
  LatencyHistogram& hist = s.per_worker[wa->index];
  auto empty = [&] {
    IrqSpinGuard g(s.lock);
    return s.queue.empty();
  };
  for (;;) {
    Request r;
    bool got = false;
    while (!got) {
      {
        IrqSpinGuard g(s.lock);
        if (!s.queue.empty()) {
          r = s.queue.front();
          s.queue.pop_front();
          ++s.busy;
          got = true;
        }
      }
      if (!got) s.idle_workers.wait_while(empty);  // killed here when the process exits
    }
    Platform::delay_ns(r.service_ns);
    hist.record(Platform::now_ns() - r.arrival_ns);
    {
      IrqSpinGuard g(s.lock);
      --s.busy;
    }
  }
}

// The requests of one server: Poisson arrivals, service times uniform within +-10% of the mean. The same seed gives
// the same requests, so the kernel run and the ideal queue below see identical work.
class RequestStream {
 public:
  RequestStream(u64 seed, double rate_per_ns, u64 mean_service_ns, u64 start_ns, u64 end_ns)
      : rng_(seed),
        gap_(rate_per_ns),
        jitter_(0.9, 1.1),
        mean_(mean_service_ns),
        t_(static_cast<double>(start_ns)),
        end_(end_ns) {}
  bool next(Request* r) {
    t_ += gap_(rng_);
    const u64 at = static_cast<u64>(t_);
    if (at >= end_) return false;
    *r = Request{at, static_cast<u64>(static_cast<double>(mean_) * jitter_(rng_))};
    return true;
  }

 private:
  std::mt19937_64 rng_;
  std::exponential_distribution<double> gap_;
  std::uniform_real_distribution<double> jitter_;
  u64 mean_;
  double t_;
  u64 end_;
};

void generator(void* arg) {
  auto* w = static_cast<std::pair<World*, Server*>*>(arg);
  World& world = *w->first;
  Server& s = *w->second;
  RequestStream stream(s.seed, s.rate_per_ns, s.mean_service_ns, world.start_ns,
                       world.start_ns + world.opt->duration_ns);
  Request r;
  while (stream.next(&r)) {
    if (Platform::now_ns() < r.arrival_ns) world.sched->sleep_until(r.arrival_ns);
    {
      IrqSpinGuard g(s.lock);
      s.queue.push_back(r);
      ++s.generated;
    }
    s.idle_workers.wake_one();
  }
  IrqSpinGuard g(s.lock);
  s.generator_done = true;
}

constexpr u64 kNeighbourChunkNs = 10'000'000;

void neighbour_task(void* arg) {
  u64* units = static_cast<u64*>(arg);
  for (;;) {
    Platform::delay_ns(kNeighbourChunkNs);
    ++*units;
    sched::scheduler().yield();
  }
}

// Waits for the run to end and the queues to drain, then exits every process and stops the scheduler.
void controller(void* arg) {
  auto* world = static_cast<World*>(arg);
  Scheduler& s = *world->sched;
  s.sleep_until(world->start_ns + world->opt->duration_ns);
  for (;;) {
    bool drained = true;
    for (auto& srv : world->servers) {
      IrqSpinGuard g(srv->lock);
      drained = drained && srv->generator_done && srv->queue.empty() && srv->busy == 0;
    }
    if (drained) break;
    s.sleep_for(100'000);
  }
  world->end_ns = Platform::now_ns();
  for (auto& srv : world->servers) s.exit_process(srv->pid).expect("exit server");
  s.exit_process(world->batch.pid).expect("exit neighbour");
  stop_tracing();  // the trace drain worker is a kernel task too: it makes its last pass and exits
  while (s.live_tasks() > 1) s.sleep_for(50'000);
  world->stop_ns = Platform::now_ns();
  s.stop();
}

}  // namespace

ServerResult run_server_scenario(const Options& opt, bool print) {
  ServerResult result;
  World world;
  world.opt = &opt;
  const u32 app_cores = opt.cpus - opt.kernel_cores;
  // Cores: web and api get a third of the app cores each (at least one); the neighbour gets the rest.
  const u32 web_cores = app_cores / 3 > 0 ? app_cores / 3 : 1;
  const u32 api_cores = web_cores;
  world.batch.cores = app_cores - web_cores - api_cores;
  auto add_server = [&](const char* name, u32 cores, u64 service_ns, u64 seed_salt) {
    auto s = std::make_unique<Server>();
    s->name = name;
    s->cores = cores;
    s->mean_service_ns = service_ns;
    s->rate_per_ns = opt.load * static_cast<double>(cores) / static_cast<double>(service_ns);
    s->per_worker.resize(cores);
    s->seed = opt.seed * 0x9e3779b97f4a7c15ull + seed_salt;
    world.servers.push_back(std::move(s));
  };
  add_server("web", web_cores, 20'000, 1);
  add_server("api", api_cores, 50'000, 2);

  if (print) {
    std::printf("platypos-sim: scenario server, mode %s, policy %s, %u cpus (%u kernel), seed %" PRIu64
                ", load %.2f, duration %s\n",
                mode_name(opt.mode), sched::policy_name(opt.policy), opt.cpus, opt.kernel_cores, opt.seed, opt.load,
                opt.duration_text.c_str());
  }

  std::vector<std::unique_ptr<WorkerArg>> worker_args;
  std::vector<std::unique_ptr<std::pair<World*, Server*>>> gen_args;
  std::vector<std::string> owners;
  run_kernel(
      opt,
      [&](hosted::Kernel& k) {
        Scheduler& s = k.scheduler();
        world.sched = &s;
        world.start_ns = Platform::now_ns();
        for (auto& srv : world.servers) {
          srv->pid = k.processes()
                         .spawn({.name = srv->name, .cores = srv->cores, .memory_bytes = 16 * MiB})
                         .expect("spawn server")
                         ->id();
          for (u32 i = 0; i < srv->cores; ++i) {
            worker_args.push_back(std::make_unique<WorkerArg>(WorkerArg{srv.get(), i}));
            s.create_task(srv->pid, "worker", &worker, worker_args.back().get()).expect("worker");
          }
          gen_args.push_back(std::make_unique<std::pair<World*, Server*>>(&world, srv.get()));
          s.create_task(sched::kNoProcess, "loadgen", &generator, gen_args.back().get()).expect("generator");
        }
        world.batch.pid = k.processes()
                              .spawn({.name = world.batch.name, .cores = world.batch.cores, .memory_bytes = 16 * MiB})
                              .expect("batch")
                              ->id();
        world.batch.units.assign(opt.cpus, 0);
        for (u64& u : world.batch.units) s.create_task(world.batch.pid, "cruncher", &neighbour_task, &u).expect("b");
        s.create_task(sched::kNoProcess, "controller", &controller, &world).expect("controller");
        owners = cpu_owners(k, opt);
      },
      [&](hosted::Kernel& k, const RunResult& r) {
        result.run = r;
        result.elapsed_ns = world.end_ns - world.start_ns;
        for (auto& srv : world.servers) {
          ServerProcessResult pr;
          pr.name = srv->name;
          pr.cores = srv->cores;
          pr.generated = srv->generated;
          for (auto& w : srv->per_worker) pr.latency.merge(w);
          // The floor any scheduler could reach: the same requests, FIFO on as many cores, zero overhead.
          RequestStream stream(srv->seed, srv->rate_per_ns, srv->mean_service_ns, 0, opt.duration_ns);
          std::vector<u64> free_at(srv->cores, 0);
          Request r;
          while (stream.next(&r)) {
            auto core = std::min_element(free_at.begin(), free_at.end());
            const u64 done = std::max(*core, r.arrival_ns) + r.service_ns;
            *core = done;
            pr.ideal.record(done - r.arrival_ns);
          }
          result.servers.push_back(std::move(pr));
        }
        result.batch_cores = world.batch.cores;
        result.batch_tasks = world.batch.units.size();
        for (u64 u : world.batch.units) result.batch_units += u;
        if (print) {
          const double secs = static_cast<double>(opt.duration_ns) / 1e9;
          std::printf("\n%-8s %5s %9s %12s %9s %9s %9s %9s\n", "process", "cores", "requests", "throughput/s", "p50 us",
                      "p99 us", "p999 us", "max us");
          auto us = [](u64 ns) { return static_cast<double>(ns) / 1e3; };
          for (const auto& pr : result.servers) {
            const LatencyHistogram& h = pr.latency;
            std::printf("%-8s %5u %9" PRIu64 " %12.0f %9.1f %9.1f %9.1f %9.1f\n", pr.name.c_str(), pr.cores, h.count(),
                        static_cast<double>(h.count()) / secs, us(h.value_at_ppm(500'000)), us(h.value_at_ppm(990'000)),
                        us(h.value_at_ppm(999'000)), us(h.max()));
          }
          std::printf("%-8s %5u   noisy neighbour: %zu tasks, %" PRIu64 " chunks of 10 ms computed\n", world.batch.name,
                      result.batch_cores, result.batch_tasks, result.batch_units);
          std::printf("\nideal: the same requests, FIFO on the same number of cores, zero scheduling cost\n");
          for (const auto& pr : result.servers) {
            const LatencyHistogram& h = pr.ideal;
            std::printf("%-8s %5u %9" PRIu64 " %12s %9.1f %9.1f %9.1f %9.1f\n", pr.name.c_str(), pr.cores, h.count(),
                        "", us(h.value_at_ppm(500'000)), us(h.value_at_ppm(990'000)), us(h.value_at_ppm(999'000)),
                        us(h.max()));
          }
          print_cpu_table(k, opt, owners, world.stop_ns - world.start_ns);
          std::printf("\n");
        }
        for (const auto& pr : result.servers) {
          if (pr.latency.count() != pr.generated) {
            std::printf("ERROR: %s served %" PRIu64 " of %" PRIu64 " requests\n", pr.name.c_str(), pr.latency.count(),
                        pr.generated);
            result.ok = false;
          }
        }
        if (!check_no_leaks(k, print)) result.ok = false;
        if (r.stuck) result.ok = false;
        if (print) print_run_footer(opt, r, result.elapsed_ns);
      });
  return result;
}

namespace {

int run_server(const Options& opt) {
  const u32 app_cores = opt.cpus - opt.kernel_cores;
  if (app_cores < 3) {
    std::fprintf(stderr,
                 "platypos-sim: the server scenario needs at least 3 app cores (--cpus %u --kernel-cores %u leaves "
                 "%u)\nRun with --help for more information.\n",
                 opt.cpus, opt.kernel_cores, app_cores);
    return 2;
  }
  return run_server_scenario(opt, true).ok ? 0 : 1;
}

int run_admission(const Options& opt) {
  std::printf("platypos-sim: scenario admission, mode %s, policy %s, %u cpus (%u kernel), seed %" PRIu64 "\n",
              mode_name(opt.mode), sched::policy_name(opt.policy), opt.cpus, opt.kernel_cores, opt.seed);
  int status = 0;
  run_kernel(
      opt,
      [&](hosted::Kernel& k) {
        Scheduler& s = k.scheduler();
        // Spawn until admission control refuses, alternating core-hungry and memory-hungry requests.
        std::vector<ProcessId> admitted;
        for (int i = 0;; ++i) {
          const sched::ProcessSpec spec{
              .name = i % 2 == 0 ? "cores-1" : "mem-64M", .cores = 1, .memory_bytes = i % 2 == 0 ? 4 * MiB : 64 * MiB};
          sched::AdmissionShortfall why;
          auto pid = s.spawn(spec, &why);
          if (pid.is_error()) {
            std::printf("spawn #%d (%s): refused, %s short (asked %" PRIu64 ", %" PRIu64 " free)\n", i, spec.name,
                        sched::resource_name(why.resource), why.requested, why.available);
            break;
          }
          admitted.push_back(*pid);
          std::printf("spawn #%d (%s): admitted as process %u, %u free app cores left\n", i, spec.name, *pid,
                      s.free_app_cores());
        }
        for (ProcessId p : admitted) s.exit_process(p).expect("exit");
        const auto twice = s.exit_process(admitted.front());
        std::printf("exit twice: %s\n", twice.is_error() ? error_name(twice.error()) : "ok (wrong!)");
        if (!twice.is_error()) status = 1;
        s.stop();
      },
      [&](hosted::Kernel& k, const RunResult& r) {
        std::printf("\n");
        if (!check_no_leaks(k, true)) status = 1;
        print_run_footer(opt, r, 0);
      });
  return status;
}

}  // namespace

std::span<const Scenario> scenarios() {
  static const Scenario list[] = {
      {"programs",
       "the example programs (echo, log shipping, object store) as processes on dedicated cores, system calls through "
       "rings (the default; 12 cpus unless --cpus; runs until they finish: --duration and --load do not apply)",
       &run_programs_scenario},
      {"server", "kernel-task servers with dedicated cores under Poisson load beside a noisy neighbour", &run_server},
      {"admission", "spawns processes until admission control refuses, then exits them all", &run_admission},
      {"hostile",
       "hostile programs (random raw entries, scribbled rings, a second core rewriting the first's entries, exits "
       "mid-chain; killed and relaunched at seeded times) beside a well-behaved pair whose results must be a clean "
       "run's; then nothing may be left (--program-args 'count=N hostile=N iters=N')",
       &run_hostile_scenario},
      {"kv",
       "kv-server (a memcached-compatible server). Threads mode: on a real socket until Ctrl-C (--listen IPV4:PORT, "
       "default 127.0.0.1:11311; --kv-memory BYTES; --server-cores N; just serve). Sim mode: against modelled "
       "clients on a modelled network, deterministic (--kv-clients N, --kv-rate REQ/S, --kv-resets PER_MILLION, "
       "--duration)",
       &run_kv_scenario},
      {"files",
       "file-server (HTTP/1.1 GET/HEAD with keep-alive) for the files beneath --root DIR (default: .), read-only, on a "
       "real socket, threads mode only, until Ctrl-C (--listen IPV4:PORT, default 127.0.0.1:8080; just serve-files)",
       &run_files_scenario},
  };
  return list;
}

}  // namespace platypos::simtool
