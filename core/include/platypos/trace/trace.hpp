#pragma once
// Trace points: what instrumented code includes.
//
//   PLATYPOS_TRACE(sched_switch, from->id(), to->id(), flow);
//
// The event and its argument types are declared in trace/catalog.hpp. A trace point whose level is above
// PLATYPOS_TRACE_MAX_LEVEL compiles to nothing (arguments type-checked, never evaluated); otherwise it costs one
// byte load and a predictable branch while tracing is off or set to a lower level, and a record in the CPU's ring
// (trace/trace_ring.hpp) while it is on. Safe anywhere: interrupt handlers, with locks held, inside the allocators.

#include <platypos/trace/tracer.hpp>

#define PLATYPOS_TRACE(event, ...)                                                              \
  do {                                                                                          \
    constexpr ::platypos::trace::Level platypos_trace_level_ =                                  \
        ::platypos::trace::event_info(::platypos::trace::EventId::event).level;                 \
    if constexpr (static_cast<unsigned>(platypos_trace_level_) <= (PLATYPOS_TRACE_MAX_LEVEL)) { \
      if (::platypos::trace::enabled(platypos_trace_level_)) [[unlikely]] {                     \
        ::platypos::trace::emit<::platypos::trace::EventId::event>(__VA_ARGS__);                \
      }                                                                                         \
    }                                                                                           \
  } while (false)
