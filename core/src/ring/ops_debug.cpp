// nop and console_write.

#include "op.hpp"

namespace platypos::ring {

Result<i64> op_nop(OpContext&) { return 0; }

Result<i64> op_console_write(OpContext& cx) {
  // Copied first: the console scans what it prints (line ends, a log level), and must see what it then prints.
  char text[abi::kMaxConsoleWrite];
  cx.in().copy_to(text);
  Platform::console_write(text, cx.in().size());
  return 0;
}

}  // namespace platypos::ring
