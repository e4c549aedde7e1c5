#pragma once
// The trace event catalog: every event the kernel records, declared once. Included by event.hpp, which turns it into
// the EventId enum and the kEvents table (and checks it at compile time); a trace file carries the table in its
// header, so the decoder learns events from the file.
//
//   EVENT(name, "category", level, kind, (type, arg), ...)
//
//   level  coarse | normal | fine (trace/event.hpp): which tracer levels record it, and whether it is compiled in
//   kind   instant | begin | end | task_switch | task_new: what the decoder builds from it
//   args   at most 5, taking at most 5 record words (a str takes 2): u64, i64, hex, addr (code address), task,
//          str (<= 16 bytes), flow_begin, flow_end
//
// Record one with PLATYPOS_TRACE(name, args...) (trace/trace.hpp); the arguments are checked against these types.
// Names are unique; ids follow the order here and may change between builds (files carry their own table).
//
// Adding events: append a line in the right group. Events the coming subsystems should add:
//   rings         (ring_submit, ring_complete, ring_park, ring_idle, ring_doorbell are in) ring_poll_begin /
//                 ring_poll_end (begin/end span of a kernel core's pass over its rings)
//   capabilities  (cap_create, cap_close, cap_denied, channel_send, channel_recv are in) cap_transfer (hex from,
//                 hex to, u64 handle, flow_begin flow)

#define PLATYPOS_TRACE_EVENTS(EVENT)                                                                             \
  /* Anyone: a user marker (tests, ad-hoc debugging). */                                                         \
  EVENT(marker, "debug", coarse, instant, (u64, value), (hex, aux), (str, label))                                \
  /* The scheduler (core/src/sched/scheduler.cpp). */                                                            \
  EVENT(process_spawn, "sched", coarse, instant, (hex, process), (u64, cores), (u64, memory_kib), (str, name))   \
  EVENT(process_exit, "sched", coarse, instant, (hex, process), (u64, live_tasks))                               \
  EVENT(task_new, "sched", coarse, task_new, (task, task), (hex, process), (addr, entry), (str, name))           \
  EVENT(task_exit, "sched", coarse, instant, (task, task))                                                       \
  EVENT(sched_switch, "sched", normal, task_switch, (task, from), (task, to), (flow_end, flow))                  \
  EVENT(sched_wake, "sched", normal, instant, (task, task), (flow_begin, flow))                                  \
  EVENT(sched_block, "sched", normal, instant, (task, task))                                                     \
  EVENT(sched_preempt, "sched", normal, instant, (task, task), (u64, ran_ns))                                    \
  EVENT(sched_timer, "sched", normal, instant, (i64, late_ns))                                                   \
  /* Interrupts (backends: bare-metal trap dispatch, hosted timer delivery). vector: the x86 vector; the hosted  \
     backends deliver their timer as vector 32, like the bare-metal LAPIC timer. pc: the interrupted code, when  \
     known. */                                                                                                   \
  EVENT(irq_enter, "irq", normal, begin, (u64, vector), (addr, pc))                                              \
  EVENT(irq_exit, "irq", normal, end, (u64, vector))                                                             \
  /* Memory (core/src/mm). */                                                                                    \
  EVENT(reservation_reserve, "mm", normal, instant, (u64, bytes), (u64, pages))                                  \
  EVENT(reservation_release, "mm", normal, instant, (u64, pages))                                                \
  EVENT(buddy_alloc_failed, "mm", normal, instant, (u64, order))                                                 \
  EVENT(buddy_alloc, "mm", fine, instant, (hex, addr), (u64, order))                                             \
  EVENT(buddy_free, "mm", fine, instant, (hex, addr), (u64, order))                                              \
  /* The system-call rings (core/src/ring): ring = the ring's number (creation order); flows from each entry's   \
     submission to its completion; parked operations; a kernel core going idle; doorbells. */                    \
  EVENT(ring_submit, "ring", normal, instant, (hex, ring), (u64, opcode), (flow_begin, flow))                    \
  EVENT(ring_complete, "ring", normal, instant, (hex, ring), (i64, result), (flow_end, flow))                    \
  EVENT(ring_park, "ring", normal, instant, (hex, ring), (u64, opcode))                                          \
  EVENT(ring_idle, "ring", normal, instant, (u64, rings), (u64, deadline))                                       \
  EVENT(ring_doorbell, "ring", normal, instant, (hex, ring))                                                     \
  /* Capabilities (core/src/cap): handles created, closed and refused (rights held vs needed), and messages:     \
     a flow from each channel write to the read that takes it. object = the kernel object id (koid). */          \
  EVENT(cap_create, "cap", normal, instant, (u64, handle), (u64, type), (u64, object), (hex, rights))            \
  EVENT(cap_close, "cap", normal, instant, (u64, handle), (u64, object))                                         \
  EVENT(cap_denied, "cap", normal, instant, (u64, handle), (hex, held), (hex, needed))                           \
  EVENT(channel_send, "cap", normal, instant, (u64, endpoint), (u64, bytes), (u64, handles), (flow_begin, flow)) \
  EVENT(channel_recv, "cap", normal, instant, (u64, endpoint), (u64, bytes), (u64, handles), (flow_end, flow))   \
  /* Tracing itself (core/src/trace/drainer.cpp): one pass of the drain worker. */                               \
  EVENT(trace_drain_begin, "trace", normal, begin)                                                               \
  EVENT(trace_drain_end, "trace", normal, end, (u64, records), (u64, bytes))
