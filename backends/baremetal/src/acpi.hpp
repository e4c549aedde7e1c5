#pragma once
// Just enough ACPI to find the processors: the RSDP (in the EBDA or the BIOS area), the RSDT/XSDT, and the MADT's
// local APIC entries (ACPI spec, "Multiple APIC Description Table"). Tables are read through the direct map; every
// checksum is verified and a table that fails is ignored.

#include <platypos/base/types.hpp>

namespace platypos::baremetal::acpi {

// Writes the APIC ids of the enabled processors (not the merely online-capable ones: hot-plug) in MADT order into
// ids[0, max) and returns how many the MADT lists (possibly more than max). 0 when there is no usable MADT.
u32 local_apic_ids(u32* ids, u32 max);

}  // namespace platypos::baremetal::acpi
