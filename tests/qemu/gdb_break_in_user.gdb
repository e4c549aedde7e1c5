# The qemu.gdb.user test (tests/qemu/CMakeLists.txt): the kernel runs run=isolation; gdb loads the ring-3 program's
# symbols (tools/gdb/gdbinit's platypos-user), stops in the attacker's code in ring 3, and shows its source, its
# backtrace, a local and the code segment (0x2b: ring 3).
platypos-user t-user-peer
break user_peer.cpp:87
continue
bt 3
print offset
print/x $cs
kill
