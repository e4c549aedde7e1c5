#pragma once
// The object store's wire format: one request message, one reply message, over a channel between a client and the
// store. Integers are little-endian (the machine's order: both ends run on it).
//
//   request  [ RequestHeader ][ put: `length` bytes of blob ]          handles: get/del: the reference (exactly 1)
//   reply    [ ReplyHeader   ][ get: `length` bytes of blob ]          handles: put: the new reference (1)
//
//   op    what the store does                                          reply status
//   put   stores the bytes, mints a reference for them                 ok (+ the reference), invalid_argument (size),
//                                                                      no_resources (store full), no_memory
//   get   resolves the reference with its issuer key, sends the blob   ok (+ the bytes), access_denied (a reference
//                                                                      some other key minted), not_found (the blob is
//                                                                      gone), wrong_type (not a reference),
//                                                                      invalid_argument (no handle)
//   del   resolves the reference, drops the blob: the reference and    ok, or as get
//         every copy of it then give not_found
//
// A reference is an opaque kernel object (ref_create): a client can hold it, duplicate it and pass it to another
// client over any channel, but it cannot read the cookie inside nor mint one the store accepts. The store closes the
// reference handles it receives once it has answered. `tag` is the client's, returned as is.

#include <platypos/abi/status.hpp>

#include <cstdint>

namespace platypos::examples::objstore {

enum class StoreOp : std::uint8_t { put = 1, get = 2, del = 3 };

struct RequestHeader {
  static constexpr std::uint32_t kMagic = 0x5351424f;  // "OBQS"
  std::uint32_t magic = kMagic;
  StoreOp op = StoreOp::put;
  std::uint8_t reserved[3] = {};
  std::uint32_t tag = 0;
  std::uint32_t length = 0;  // put: the blob's bytes that follow; otherwise 0
};
static_assert(sizeof(RequestHeader) == 16);

struct ReplyHeader {
  static constexpr std::uint32_t kMagic = 0x5052424f;  // "OBRP"
  std::uint32_t magic = kMagic;
  StoreOp op = StoreOp::put;
  std::uint8_t reserved[3] = {};
  std::uint32_t tag = 0;
  std::int32_t status = 0;   // an abi::Status value
  std::uint32_t length = 0;  // get: the blob's bytes that follow
  std::uint32_t reserved2 = 0;
};
static_assert(sizeof(ReplyHeader) == 24);

// The biggest blob: a reply (header + blob) must fit in one channel message (64 KiB).
inline constexpr std::uint32_t kMaxBlob = 60 * 1024;
inline constexpr std::uint32_t kMaxRequest = sizeof(RequestHeader) + kMaxBlob;
inline constexpr std::uint32_t kMaxReply = sizeof(ReplyHeader) + kMaxBlob;

}  // namespace platypos::examples::objstore
