# Toolchain for the freestanding x86_64 kernel tree (preset `baremetal`).
#
# It picks the compiler and tells CMake there is no operating system underneath. The freestanding flags themselves
# live on the INTERFACE target `platypos_kernel_flags` (cmake/flags.cmake), not in global CMAKE_*_FLAGS.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

find_program(PLATYPOS_GXX NAMES x86_64-linux-gnu-g++ g++ REQUIRED)
find_program(PLATYPOS_GCC NAMES x86_64-linux-gnu-gcc gcc REQUIRED)
set(CMAKE_CXX_COMPILER ${PLATYPOS_GXX})
set(CMAKE_C_COMPILER ${PLATYPOS_GCC})
set(CMAKE_ASM_COMPILER ${PLATYPOS_GCC})

# try_compile cannot link a program without a C library: check compilers by building a static library instead.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
