# Cross compilation for 64-bit ARM (aarch64) on a Debian x86-64 host: Debian's cross GCC
# (crossbuild-essential-arm64) and a sysroot of Debian's arm64 packages, unpacked by
# scripts/build-arm64.sh (docs/platforms.md). CLAPSEARCH_ARM64_SYSROOT names the sysroot.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

if(NOT CLAPSEARCH_ARM64_SYSROOT)
  set(CLAPSEARCH_ARM64_SYSROOT "$ENV{CLAPSEARCH_ARM64_SYSROOT}")
endif()
if(NOT CLAPSEARCH_ARM64_SYSROOT OR NOT EXISTS "${CLAPSEARCH_ARM64_SYSROOT}/usr/include")
  message(FATAL_ERROR "toolchain-aarch64: no sysroot (set CLAPSEARCH_ARM64_SYSROOT; scripts/build-arm64.sh makes one)")
endif()
# Try-compiles (find_package(OpenMP), ...) must see the same sysroot variable.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES CLAPSEARCH_ARM64_SYSROOT)

# Not CMAKE_SYSROOT: the C library and the compiler's own runtime (libstdc++, libgomp) come
# from the cross toolchain (/usr/aarch64-linux-gnu); the sysroot holds everything else, found
# through CMAKE_FIND_ROOT_PATH, pkg-config's sysroot and explicit include/link paths.
set(CMAKE_FIND_ROOT_PATH "${CLAPSEARCH_ARM64_SYSROOT}" /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(_lib "${CLAPSEARCH_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu")
# -isystem: Debian's arm64 headers are not this project's code (the same as on x86, where they
# are system headers by location).
set(CMAKE_C_FLAGS_INIT "-isystem ${CLAPSEARCH_ARM64_SYSROOT}/usr/include -isystem ${CLAPSEARCH_ARM64_SYSROOT}/usr/include/aarch64-linux-gnu")
set(CMAKE_CXX_FLAGS_INIT "${CMAKE_C_FLAGS_INIT}")
# rpath-link: the shared libraries' own dependencies (libavcodec's codecs, ...) live in the sysroot.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-L${_lib} -Wl,-rpath-link,${_lib} -Wl,-rpath-link,${CLAPSEARCH_ARM64_SYSROOT}/lib/aarch64-linux-gnu -Wl,-rpath-link,${_lib}/openblas-pthread")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${CMAKE_EXE_LINKER_FLAGS_INIT}")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "${CMAKE_EXE_LINKER_FLAGS_INIT}")

# pkg-config: only the sysroot's .pc files, with their paths prefixed by the sysroot.
set(ENV{PKG_CONFIG_DIR} "")
set(ENV{PKG_CONFIG_LIBDIR} "${_lib}/pkgconfig:${CLAPSEARCH_ARM64_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${CLAPSEARCH_ARM64_SYSROOT}")

# scripts/build-arm64.sh passes -DCMAKE_CROSSCOMPILING_EMULATOR=<build>/qemu-run, so
# gtest_discover_tests can list the test binaries at build time.
