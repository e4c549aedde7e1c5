#pragma once
// The ring-3 program images linked into the kernel: one static ELF64 executable per program (examples/ and the
// kernel's user-mode tests), built by backends/baremetal/user/ and embedded by the assembly it generates
// (user_images.S: .incbin of each --strip-debug'ed ELF, then the table below).
//
//   for (const UserImage& image : user_images()) ...            // every image, in build order
//   const UserImage* echo = find_user_image("echo-server");      // nullptr if there is no such program
//
// Each image is a whole ELF file, read-only in the kernel's .rodata, 4 KiB aligned (so its segments' file offsets,
// which are page-aligned, are page-aligned in memory too), never modified: parse it in place. Its PT_LOADs lie in
// [kUserImageBase, kUserImageLimit) with W^X (user.ld); its entry is _start, which expects the ProgramEnv in rdi and
// runs the PLATYPOS_PROGRAM whose name equals ProgramEnv::name (an ELF holds exactly one, of the image's name).
// The unstripped files, for gdb, are <build>/user/<name>.elf.
//
// Available only in the bare-metal kernel image (link platypos_user_images): the table is generated assembly.

#include <cstddef>
#include <span>
#include <string_view>

namespace platypos::baremetal {

struct UserImage {
  const char* name;           // the program's name, e.g. "echo-server" (NUL-terminated)
  const unsigned char* data;  // the ELF file
  unsigned long size;         // its size in bytes
};
// The generated table writes each row as three .quad: keep the layout.
static_assert(sizeof(UserImage) == 24 && alignof(UserImage) == 8);
static_assert(offsetof(UserImage, name) == 0 && offsetof(UserImage, data) == 8 && offsetof(UserImage, size) == 16);

extern "C" {
// Defined in the generated user_images.S (backends/baremetal/user/CMakeLists.txt).
extern const UserImage platypos_user_image_table[];
extern const unsigned long platypos_user_image_count;
}

// Every ring-3 program image linked into the kernel.
inline std::span<const UserImage> user_images() { return {platypos_user_image_table, platypos_user_image_count}; }

// The image of the program called `name`, or nullptr.
inline const UserImage* find_user_image(std::string_view name) {
  for (const UserImage& image : user_images()) {
    if (std::string_view(image.name) == name) return &image;
  }
  return nullptr;
}

}  // namespace platypos::baremetal
