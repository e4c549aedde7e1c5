#include <platypos/base/format.hpp>

namespace platypos {
namespace {

struct Spec {
  char align = 0;  // 0: default (right for numbers, left for strings), '<' or '>'
  bool alt = false;
  bool zero = false;
  u32 width = 0;
  char type = 0;
};

constexpr u32 kMaxWidth = 256;

void pad(FormatSink sink, char c, u32 n) {
  char chunk[32];
  for (char& x : chunk) x = c;
  while (n > 0) {
    const u32 k = n < sizeof chunk ? n : static_cast<u32>(sizeof chunk);
    sink.write(chunk, k);
    n -= k;
  }
}

// Writes `body` (with an optional sign/prefix in front) padded to spec.width.
void emit(FormatSink sink, const Spec& spec, const char* prefix, usize prefix_len, const char* body, usize body_len,
          bool numeric) {
  const usize len = prefix_len + body_len;
  const u32 fill = spec.width > len ? static_cast<u32>(spec.width - len) : 0;
  const char align = spec.align != 0 ? spec.align : (numeric ? '>' : '<');
  if (fill > 0 && align == '>' && spec.zero && numeric) {
    // Zero padding goes between the prefix and the digits: -0042, 0x00ff.
    sink.write(prefix, prefix_len);
    pad(sink, '0', fill);
    sink.write(body, body_len);
    return;
  }
  if (fill > 0 && align == '>') pad(sink, ' ', fill);
  sink.write(prefix, prefix_len);
  sink.write(body, body_len);
  if (fill > 0 && align == '<') pad(sink, ' ', fill);
}

void emit_unsigned(FormatSink sink, const Spec& spec, u64 v, bool negative, char type) {
  u32 base = 10;
  const char* digits = "0123456789abcdef";
  const char* prefix = "";
  switch (type) {
    case 'x':
      base = 16;
      prefix = "0x";
      break;
    case 'X':
      base = 16;
      prefix = "0X";
      digits = "0123456789ABCDEF";
      break;
    case 'b':
      base = 2;
      prefix = "0b";
      break;
    case 'p':
      base = 16;
      prefix = "0x";
      break;
    default: break;
  }
  char buf[72];
  usize n = 0;
  do {
    buf[sizeof buf - 1 - n] = digits[v % base];
    v /= base;
    ++n;
  } while (v != 0);
  char pre[3];
  usize pre_len = 0;
  if (negative) pre[pre_len++] = '-';
  if ((spec.alt && base != 10) || type == 'p') {
    pre[pre_len++] = prefix[0];
    pre[pre_len++] = prefix[1];
  }
  emit(sink, spec, pre, pre_len, buf + sizeof buf - n, n, true);
}

void emit_arg(FormatSink sink, const Spec& spec, const FormatArg& arg) {
  switch (arg.kind()) {
    case FormatArg::Kind::sint: {
      const i64 v = arg.as_signed();
      if (spec.type == 'c') {
        const char c = static_cast<char>(v);
        emit(sink, spec, "", 0, &c, 1, false);
        return;
      }
      if (spec.type == 'x' || spec.type == 'X' || spec.type == 'b') {
        emit_unsigned(sink, spec, static_cast<u64>(v), false, spec.type);  // two's complement bits
        return;
      }
      // Negate in unsigned arithmetic so INT64_MIN works.
      const u64 mag = v < 0 ? u64{0} - static_cast<u64>(v) : static_cast<u64>(v);
      emit_unsigned(sink, spec, mag, v < 0, 'd');
      return;
    }
    case FormatArg::Kind::uint:
      if (spec.type == 'c') {
        const char c = static_cast<char>(arg.as_unsigned());
        emit(sink, spec, "", 0, &c, 1, false);
        return;
      }
      emit_unsigned(sink, spec, arg.as_unsigned(), false, spec.type);
      return;
    case FormatArg::Kind::boolean: {
      if (spec.type == 'd') {
        emit_unsigned(sink, spec, arg.as_unsigned(), false, 'd');
        return;
      }
      const bool b = arg.as_unsigned() != 0;
      emit(sink, spec, "", 0, b ? "true" : "false", b ? 4 : 5, false);
      return;
    }
    case FormatArg::Kind::character: {
      if (spec.type == 'd' || spec.type == 'x' || spec.type == 'X') {
        emit_unsigned(sink, spec, arg.as_unsigned(), false, spec.type);
        return;
      }
      const char c = static_cast<char>(arg.as_unsigned());
      emit(sink, spec, "", 0, &c, 1, false);
      return;
    }
    case FormatArg::Kind::string: {
      const std::string_view s = arg.as_string();
      emit(sink, spec, "", 0, s.data(), s.size(), false);
      return;
    }
    case FormatArg::Kind::pointer:
      emit_unsigned(sink, spec, arg.as_unsigned(), false, spec.type == 'd' ? 'd' : 'p');
      return;
    case FormatArg::Kind::error: {
      const Error e = static_cast<Error>(arg.as_unsigned());
      if (spec.type == 'd') {
        emit_unsigned(sink, spec, arg.as_unsigned(), false, 'd');
        return;
      }
      const char* name = error_name(e);
      usize n = 0;
      while (name[n] != '\0') ++n;
      emit(sink, spec, "", 0, name, n, false);
      return;
    }
  }
}

// Parses the part after ':' up to '}' into spec; returns a pointer to the closing '}' or nullptr if malformed.
const char* parse_spec(const char* p, Spec* spec) {
  if (*p == '<' || *p == '>') spec->align = *p++;
  if (*p == '#') {
    spec->alt = true;
    ++p;
  }
  if (*p == '0') {
    spec->zero = true;
    ++p;
  }
  while (*p >= '0' && *p <= '9') {
    spec->width = spec->width * 10 + static_cast<u32>(*p - '0');
    if (spec->width > kMaxWidth) spec->width = kMaxWidth;
    ++p;
  }
  switch (*p) {
    case 'd':
    case 'x':
    case 'X':
    case 'b':
    case 'c':
    case 's':
    case 'p': spec->type = *p++; break;
    default: break;
  }
  return *p == '}' ? p : nullptr;
}

}  // namespace

void vformat(FormatSink sink, const char* fmt, const FormatArg* args, usize count) {
  usize next = 0;
  const char* p = fmt;
  const char* run = p;  // start of pending literal text
  while (*p != '\0') {
    if (*p == '}' && p[1] == '}') {
      sink.write(run, static_cast<usize>(p - run) + 1);
      p += 2;
      run = p;
      continue;
    }
    if (*p != '{') {
      ++p;
      continue;
    }
    sink.write(run, static_cast<usize>(p - run));
    if (p[1] == '{') {
      sink.put('{');
      p += 2;
      run = p;
      continue;
    }
    Spec spec;
    const char* close = nullptr;
    if (p[1] == '}') {
      close = p + 1;
    } else if (p[1] == ':') {
      close = parse_spec(p + 2, &spec);
    }
    if (close == nullptr) {
      // Not a placeholder we understand: print it literally so the message is still readable.
      sink.put('{');
      ++p;
      run = p;
      continue;
    }
    if (next < count) {
      emit_arg(sink, spec, args[next]);
    } else {
      sink.write("{?}", 3);
    }
    ++next;
    p = close + 1;
    run = p;
  }
  sink.write(run, static_cast<usize>(p - run));
}

namespace {
struct BufferState {
  char* buf;
  usize cap;
  usize len;  // total length produced, may exceed cap
};

void buffer_write(void* ctx, const char* data, usize len) {
  auto* st = static_cast<BufferState*>(ctx);
  for (usize i = 0; i < len; ++i) {
    if (st->len + 1 < st->cap) st->buf[st->len] = data[i];
    ++st->len;
  }
}
}  // namespace

usize vformat_to(char* buf, usize cap, const char* fmt, const FormatArg* args, usize count) {
  BufferState st{buf, cap, 0};
  vformat(FormatSink(&buffer_write, &st), fmt, args, count);
  if (cap > 0) buf[st.len < cap ? st.len : cap - 1] = '\0';
  return st.len;
}

}  // namespace platypos
