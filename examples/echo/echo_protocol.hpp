#pragma once
// The echo protocol: a request is a header and a payload, the reply is the same bytes. The payload is a function of
// the request id, so the client checks every reply without keeping a copy of what it sent.
//
//   [ EchoHeader: magic, size (whole message), id ][ payload: size - 16 bytes ]

#include <cstdint>

namespace platypos::examples::echo {

struct EchoHeader {
  static constexpr std::uint32_t kMagic = 0x4f484345;  // "ECHO"
  std::uint32_t magic;
  std::uint32_t size;
  std::uint64_t id;
};
static_assert(sizeof(EchoHeader) == 16);

inline constexpr std::uint32_t kMinMessage = sizeof(EchoHeader);
inline constexpr std::uint32_t kMaxMessage = 16 * 1024;

constexpr char payload_byte(std::uint64_t id, std::uint32_t i) {
  return static_cast<char>((id * 0x9e3779b1u + i * 7u) >> 3);
}

// Writes a request of `size` bytes (kMinMessage..kMaxMessage) for `id` into `buf`.
inline void fill_request(char* buf, std::uint32_t size, std::uint64_t id) {
  EchoHeader h{EchoHeader::kMagic, size, id};
  __builtin_memcpy(buf, &h, sizeof h);
  for (std::uint32_t i = sizeof h; i < size; ++i) buf[i] = payload_byte(id, i);
}

// The id of a well-formed message of `bytes` bytes, or false.
inline bool parse_reply(const char* buf, std::uint32_t bytes, std::uint64_t* id) {
  if (bytes < sizeof(EchoHeader)) return false;
  EchoHeader h;
  __builtin_memcpy(&h, buf, sizeof h);
  if (h.magic != EchoHeader::kMagic || h.size != bytes) return false;
  for (std::uint32_t i = sizeof h; i < bytes; ++i)
    if (buf[i] != payload_byte(h.id, i)) return false;
  *id = h.id;
  return true;
}

}  // namespace platypos::examples::echo
