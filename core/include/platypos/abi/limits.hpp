#pragma once
// Every limit a program can run into, defined once. The kernel checks against these same constants (its own code
// names them, never a copy of their values), so what a program reads here is what the kernel enforces. Where a limit
// follows from the kernel's allocators (the largest block a reservation can hand out), the kernel static_asserts the
// relation next to the code that depends on it.

#include <cstdint>

namespace platypos::abi {

// --- Rings ------------------------------------------------------------------------------------------------------
// Entries per submission queue, and per completion queue (powers of two). The kernel takes an entry only while the
// CQ has room for the completion of everything in flight, so the CQ bounds the operations a program can have
// waiting at once (a server with 10,000 idle connections, each with a receive waiting, needs a CQ of 16384: like
// io_uring's, it may be that large).
inline constexpr std::uint32_t kMaxRingEntries = 4096;
inline constexpr std::uint32_t kMaxCqEntries = 65536;
inline constexpr std::uint32_t kDefaultCqEntries = 512;
// Entries in one LINK chain: a longer chain fails as a whole (ring.hpp).
inline constexpr std::uint32_t kMaxChain = 16;

// --- Channels ---------------------------------------------------------------------------------------------------
inline constexpr std::uint32_t kMaxMessageBytes = 64 * 1024;
inline constexpr std::uint32_t kMaxMessageHandles = 64;
// Queued for one endpoint at a time: a write beyond either fails with limit_reached.
inline constexpr std::uint32_t kMaxQueuedMessages = 256;
inline constexpr std::uint32_t kMaxQueuedBytes = 1024 * 1024;

// --- Processes --------------------------------------------------------------------------------------------------
// Dedicated app cores one process may ask for (one ring pair each).
inline constexpr std::uint32_t kMaxProgramCores = 16;
// Handles a parent can give a child at spawn.
inline constexpr std::uint32_t kMaxInitialHandles = 16;
// A program's name (without its terminating zero) and its command line (with it).
inline constexpr std::uint32_t kMaxProgramName = 31;
inline constexpr std::uint32_t kMaxProgramArgs = 128;
// process_spawn's text: "name args...", so at most the name, a space and the arguments (without their zero).
inline constexpr std::uint32_t kMaxSpawnText = kMaxProgramName + 1 + (kMaxProgramArgs - 1);
// Memory one process may ask for: at least enough for its rings, table and first stack; at most what one
// reservation can hold.
inline constexpr std::uint64_t kMinProcessMemory = 256 * 1024;
inline constexpr std::uint64_t kMaxProcessMemory = 8ull << 30;
// Processes live at once, system-wide (each is a slot in the kernel's process table): a spawn beyond fails with
// no_resources.
inline constexpr std::uint32_t kMaxProcesses = 64;
// Handle table capacity of a spawned process.
inline constexpr std::uint32_t kProcessHandles = 256;

// --- Memory objects ---------------------------------------------------------------------------------------------
inline constexpr std::uint64_t kMaxMemoryObjectBytes = 64ull << 20;

// --- Log namespaces ---------------------------------------------------------------------------------------------
inline constexpr std::uint32_t kMaxLogName = 32;
inline constexpr std::uint32_t kMaxLogRecord = 1024;
// The record ring: at least one record of the largest size and its 2-byte length; at most 4 MiB (one block, within the
// kernel's largest allocation order); 16 KiB when log_create's arg0 is 0.
inline constexpr std::uint64_t kMinLogBytes = kMaxLogRecord + 2;
inline constexpr std::uint64_t kMaxLogBytes = 4ull << 20;
inline constexpr std::uint64_t kDefaultLogBytes = 16 * 1024;

// --- Network ----------------------------------------------------------------------------------------------------
// Connections a listener holds that no net_accept has taken yet (net_listen's arg1; 0: the default). Beyond it new
// connections are closed as they arrive: the client sees its connection reset, the program nothing.
inline constexpr std::uint32_t kDefaultBacklog = 128;
inline constexpr std::uint32_t kMaxBacklog = 4096;
// What one stream holds in kernel memory (paid by its program), each way: bytes received and not read yet (at the
// limit the kernel stops taking data from the network, so the sender's window closes: backpressure, not growth) and
// bytes net_send accepted that are not on the wire yet (at the limit net_send takes fewer, or waits for room).
inline constexpr std::uint32_t kStreamReceiveBytes = 256 * 1024;
inline constexpr std::uint32_t kStreamSendBytes = 256 * 1024;

// Provided-buffer pools (net_pool_create): buffers of kMinPoolBufferBytes to kMaxPoolBufferBytes, at most
// kMaxPoolBuffers of them.
inline constexpr std::uint32_t kMinPoolBufferBytes = 64;
inline constexpr std::uint32_t kMaxPoolBufferBytes = 1u << 20;
inline constexpr std::uint32_t kMaxPoolBuffers = 65536;

// --- Files ----------------------------------------------------------------------------------------------------
// file_open_at's path: relative, '/'-separated components, none empty, ".", ".." or longer than kMaxPathComponent.
inline constexpr std::uint32_t kMaxPathBytes = 1024;
inline constexpr std::uint32_t kMaxPathComponent = 255;
// The most one file_read_at / file_write_at moves (the kernel stages it in memory paid by the program): a longer
// one is short, as a read at the end of the file is.
inline constexpr std::uint32_t kMaxFileTransfer = 1u << 20;
// The largest offset + length a file op accepts (2^62: no host file system goes further).
inline constexpr std::uint64_t kMaxFileOffset = 1ull << 62;

// --- Time -------------------------------------------------------------------------------------------------------
// The longest TIMEOUT (1000 hours). WAIT's timeout may be anything: its deadline saturates.
inline constexpr std::uint64_t kMaxTimeoutNs = 1000ull * 3600 * 1'000'000'000;

// --- Debugging --------------------------------------------------------------------------------------------------
inline constexpr std::uint32_t kMaxConsoleWrite = 1024;

}  // namespace platypos::abi
