// Processes: process_spawn, process_exit.

#include "op.hpp"

namespace platypos::ring {
namespace {
constexpr cap::Rights kProcessRights =
    cap::Rights::wait | cap::Rights::manage | cap::Rights::duplicate | cap::Rights::transfer;
}  // namespace

Result<i64> op_process_spawn(OpContext& cx) {
  const abi::Sqe& s = cx.sqe();
  if (cx.spawner().spawn == nullptr) return Error::not_supported;
  if (cx.in().empty() || s.arg0 == 0 || s.arg0 > abi::kMaxProgramCores || s.arg1 < abi::kMinProcessMemory ||
      s.arg1 > abi::kMaxProcessMemory) {
    return Error::invalid_argument;
  }
  // "name args...": copied in once; the name and the command line are cut from the copy.
  char text[abi::kMaxSpawnText];
  cx.in().copy_to(text);
  const auto len = static_cast<u32>(cx.in().size());
  u32 name_len = 0;
  while (name_len < len && text[name_len] != ' ') ++name_len;
  if (name_len == 0 || name_len > abi::kMaxProgramName) return Error::invalid_argument;
  const std::string_view name(text, name_len);
  const std::string_view args = name_len < len ? std::string_view(text + name_len + 1, len - name_len - 1) : "";
  if (args.size() >= abi::kMaxProgramArgs) return Error::invalid_argument;
  // The slot for the process handle first: once the child runs and the handles moved, nothing may fail.
  cap::HandleTable& table = cx.table();
  cap::HandleTable::Reserved slot = PLATYPOS_TRY(table.reserve(1));
  const SpawnRequest request{
      .program = name, .args = args, .cores = static_cast<u32>(s.arg0), .memory_bytes = s.arg1, .payer = &cx.account()};
  auto child = cx.spawner().spawn(cx.spawner().context, request, table, cx.handles_in());
  if (child.is_error()) {
    table.unreserve(slot);
    return child.error();
  }
  return table.add_reserved(slot, static_cast<cap::Ref<cap::ProcessObject>&&>(*child), kProcessRights);
}

Result<i64> op_process_exit(OpContext& cx) {
  const sched::ProcessId target =
      cx.object() ? cx.object_as<cap::ProcessObject>().pid() : cx.pid();  // handle 0: the program itself
  PLATYPOS_TRY(sched::scheduler().exit_process(target, static_cast<i64>(cx.sqe().arg0)));
  return 0;
}

}  // namespace platypos::ring
