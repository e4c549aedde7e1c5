// nop and console_write.

#include "op.hpp"

namespace platypos::ring {

Result<i64> op_nop(OpContext&) { return 0; }

Result<i64> op_console_write(OpContext& cx) {
  // Copied first: the console scans what it prints (line ends, a log level), and must see what it then prints.
  char text[abi::kMaxConsoleWrite];
  const usize n = cx.in().size();
  cx.in().copy_to(text);
  // The operator's terminal is not the program's: no control characters but line ends and tabs (an escape sequence
  // could rewrite what the operator sees), nor their UTF-8 forms (C1: 0xc2 0x80..0x9f).
  for (usize i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) text[i] = '?';
    if (c == 0xc2 && i + 1 < n && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      text[i] = '?';
      text[i + 1] = '?';
      ++i;
    }
  }
  Platform::console_write(text, n);
  return 0;
}

}  // namespace platypos::ring
