#pragma once
// Interrupt vectors of the bare-metal kernel: the CPU exceptions (0-31, fixed by the architecture) and the vectors
// the kernel assigns to interrupt sources.

#include <platypos/base/types.hpp>

namespace platypos::baremetal {

inline constexpr u8 kVectorDivideError = 0;
inline constexpr u8 kVectorDebug = 1;
inline constexpr u8 kVectorNmi = 2;
inline constexpr u8 kVectorBreakpoint = 3;
inline constexpr u8 kVectorOverflow = 4;
inline constexpr u8 kVectorBoundRange = 5;
inline constexpr u8 kVectorInvalidOpcode = 6;
inline constexpr u8 kVectorDeviceNotAvailable = 7;
inline constexpr u8 kVectorDoubleFault = 8;
inline constexpr u8 kVectorInvalidTss = 10;
inline constexpr u8 kVectorSegmentNotPresent = 11;
inline constexpr u8 kVectorStackFault = 12;
inline constexpr u8 kVectorGeneralProtection = 13;
inline constexpr u8 kVectorPageFault = 14;
inline constexpr u8 kVectorX87 = 16;
inline constexpr u8 kVectorAlignmentCheck = 17;
inline constexpr u8 kVectorMachineCheck = 18;
inline constexpr u8 kVectorSimd = 19;
inline constexpr u8 kVectorVirtualization = 20;
inline constexpr u8 kVectorControlProtection = 21;
inline constexpr u8 kVectorHypervisorInjection = 28;
inline constexpr u8 kVectorVmmCommunication = 29;
inline constexpr u8 kVectorSecurity = 30;
inline constexpr u8 kExceptionCount = 32;

// Vectors the kernel assigns. The legacy 8259 PICs are remapped to 0xe0-0xef and fully masked: only their spurious
// IRQ 7/15 can still arrive there.
inline constexpr u8 kVectorTimer = 0x20;
inline constexpr u8 kVectorPicBase = 0xe0;
// cpu_wake()'s IPI: its only job is to end a hlt (the handler just acknowledges it).
inline constexpr u8 kVectorWake = 0xf0;
inline constexpr u8 kVectorApicError = 0xfe;
inline constexpr u8 kVectorApicSpurious = 0xff;

// "#PF", "#UD", ... for an exception vector; "IRQ" for anything else.
const char* exception_mnemonic(u8 vector);
// "page fault", "invalid opcode", ...
const char* exception_name(u8 vector);

}  // namespace platypos::baremetal
