# The qemu.gdb test (tests/qemu/CMakeLists.txt): platypos_qemu --gdb-batch runs this after tools/gdb/gdbinit has
# connected to the halted machine. The kernel boots with crash=panic, so the gdbinit's panic breakpoint is hit too.
hbreak platypos_kernel_main
continue
bt
continue
bt
