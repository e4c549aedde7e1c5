#pragma once
// Trace events: what an event is (name, category, level, kind, typed arguments), the catalog of every event the
// kernel can record (generated from catalog.hpp), and the compile-time layout of an event's arguments in a record.
//
// The catalog is the only place an event is declared. Its table travels in every trace file's header, so the decoder
// (tools/trace) needs no compiled-in knowledge of the events: adding an event is one line in catalog.hpp.
//
// Levels: an event is recorded when its level is at most the running tracer's level, and compiled in at all only
// when its level is at most PLATYPOS_TRACE_MAX_LEVEL (a build setting, core/CMakeLists.txt): above it, a trace point
// compiles to nothing (its arguments are still type-checked, never evaluated).

#include <platypos/base/types.hpp>
#include <platypos/trace/wire_format.hpp>

#include <span>

#ifndef PLATYPOS_TRACE_MAX_LEVEL
#define PLATYPOS_TRACE_MAX_LEVEL 3
#endif

namespace platypos::trace {

const char* level_name(Level l);

inline constexpr u32 kMaxArgs = 5;
// Argument storage in a record: 8-byte words; a string takes two.
inline constexpr u32 kArgWords = 5;

struct ArgInfo {
  const char* name = nullptr;
  ArgType type = ArgType::u64;
};

struct EventInfo {
  const char* name;
  const char* category;
  Level level;
  EventKind kind;
  u8 arg_count;
  ArgInfo args[kMaxArgs];
};

constexpr u32 arg_words(ArgType t) { return t == ArgType::str ? 2 : 1; }

// Flow ids: a nonzero id from an object id and a per-object sequence number, the same on both ends of the flow
// (e.g. a task id and its wake-up count: the wake starts the flow, the task's next switch-in ends it).
constexpr u64 flow_id(u64 object, u64 sequence) { return (object << 24) | (sequence & 0xffffff) | (u64{1} << 63); }

}  // namespace platypos::trace

// ---- Generation from the catalog --------------------------------------------------------------------------------

#define PLATYPOS_TRACE_NARGS_(a1, a2, a3, a4, a5, n, ...) n
#define PLATYPOS_TRACE_NARGS(...) PLATYPOS_TRACE_NARGS_(__VA_ARGS__ __VA_OPT__(, ) 5, 4, 3, 2, 1, 0)
#define PLATYPOS_TRACE_FOR_EACH_0(m)
#define PLATYPOS_TRACE_FOR_EACH_1(m, a) m a
#define PLATYPOS_TRACE_FOR_EACH_2(m, a, ...) m a PLATYPOS_TRACE_FOR_EACH_1(m, __VA_ARGS__)
#define PLATYPOS_TRACE_FOR_EACH_3(m, a, ...) m a PLATYPOS_TRACE_FOR_EACH_2(m, __VA_ARGS__)
#define PLATYPOS_TRACE_FOR_EACH_4(m, a, ...) m a PLATYPOS_TRACE_FOR_EACH_3(m, __VA_ARGS__)
#define PLATYPOS_TRACE_FOR_EACH_5(m, a, ...) m a PLATYPOS_TRACE_FOR_EACH_4(m, __VA_ARGS__)
#define PLATYPOS_TRACE_CAT_(a, b) a##b
#define PLATYPOS_TRACE_CAT(a, b) PLATYPOS_TRACE_CAT_(a, b)
#define PLATYPOS_TRACE_FOR_EACH(m, ...) \
  PLATYPOS_TRACE_CAT(PLATYPOS_TRACE_FOR_EACH_, PLATYPOS_TRACE_NARGS(__VA_ARGS__))(m __VA_OPT__(, ) __VA_ARGS__)

#define PLATYPOS_TRACE_ARG_INFO(type, name) ::platypos::trace::ArgInfo{#name, ::platypos::trace::ArgType::type},
#define PLATYPOS_TRACE_EVENT_ID(name, category, level, kind, ...) name,
#define PLATYPOS_TRACE_EVENT_INFO(name, category, level, kind, ...) \
  ::platypos::trace::EventInfo{#name,                               \
                               category,                            \
                               ::platypos::trace::Level::level,     \
                               ::platypos::trace::EventKind::kind,  \
                               PLATYPOS_TRACE_NARGS(__VA_ARGS__),   \
                               {PLATYPOS_TRACE_FOR_EACH(PLATYPOS_TRACE_ARG_INFO __VA_OPT__(, ) __VA_ARGS__)}},

#include <platypos/trace/catalog.hpp>

namespace platypos::trace {

// Event ids: the catalog's order. Ids are assigned per build; a trace file names them in its header.
enum class EventId : u16 { PLATYPOS_TRACE_EVENTS(PLATYPOS_TRACE_EVENT_ID) count };
inline constexpr u16 kEventCount = static_cast<u16>(EventId::count);

inline constexpr EventInfo kEvents[] = {PLATYPOS_TRACE_EVENTS(PLATYPOS_TRACE_EVENT_INFO)};
static_assert(sizeof(kEvents) / sizeof(kEvents[0]) == kEventCount);

constexpr const EventInfo& event_info(EventId id) { return kEvents[static_cast<u16>(id)]; }
inline std::span<const EventInfo> catalog() { return {kEvents, kEventCount}; }

constexpr u32 event_words(const EventInfo& e) {
  u32 n = 0;
  for (u32 i = 0; i < e.arg_count; ++i) n += arg_words(e.args[i].type);
  return n;
}

// Word offset of argument `i` of an event in a record.
constexpr u32 arg_offset(const EventInfo& e, u32 i) {
  u32 n = 0;
  for (u32 k = 0; k < i; ++k) n += arg_words(e.args[k].type);
  return n;
}

// Checks every catalog entry once, at compile time: arguments fit a record, a task_switch has its two task
// arguments, a task_new its task and name, names are unique.
constexpr bool catalog_is_valid() {
  for (const EventInfo& e : kEvents) {
    if (e.arg_count > kMaxArgs || event_words(e) > kArgWords) return false;
    if (e.level == Level::off) return false;
    u32 tasks = 0, strings = 0;
    for (u32 i = 0; i < e.arg_count; ++i) {
      tasks += e.args[i].type == ArgType::task ? 1 : 0;
      strings += e.args[i].type == ArgType::str ? 1 : 0;
    }
    if (e.kind == EventKind::task_switch && tasks < 2) return false;
    if (e.kind == EventKind::task_new && (tasks < 1 || strings < 1)) return false;
  }
  for (u32 i = 0; i < kEventCount; ++i) {
    for (u32 j = i + 1; j < kEventCount; ++j) {
      const char* a = kEvents[i].name;
      const char* b = kEvents[j].name;
      u32 k = 0;
      while (a[k] != '\0' && a[k] == b[k]) ++k;
      if (a[k] == b[k]) return false;
    }
  }
  return true;
}
static_assert(catalog_is_valid(), "trace catalog: an event has too many arguments, a bad kind or a duplicate name");

}  // namespace platypos::trace
