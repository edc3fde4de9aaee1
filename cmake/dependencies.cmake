# SPDX-License-Identifier: Apache-2.0
# Every dependency is a Debian/Ubuntu package; scripts/setup installs them.
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 REQUIRED)
# Boost.Filesystem serves tandem map only; without it map (and run) are left out.
find_package(Boost 1.74 COMPONENTS filesystem)
find_package(PkgConfig)

# LAPACK through OpenBLAS when it is there (its single-thread switch pins BLAS inside workers);
# any other LAPACK still works, with BLAS threading left to the library.
set(BLA_VENDOR OpenBLAS)
find_package(LAPACK)
if(NOT LAPACK_FOUND)
  unset(BLA_VENDOR)
  find_package(LAPACK REQUIRED)
  set(TANDEM_BLAS_NAME "generic")
else()
  set(TANDEM_BLAS_NAME "OpenBLAS")
endif()

# Optional parts: without them the smooth/run commands are left out of the build.
if(PKG_CONFIG_FOUND)
  pkg_check_modules(LIBDEFLATE IMPORTED_TARGET libdeflate)
  pkg_check_modules(TOMLPP IMPORTED_TARGET tomlplusplus)
endif()

# nifti_clib: Debian 12's CMake config files point at missing targets, so link by hand.
find_path(NIFTI_INCLUDE_DIR nifti2_io.h PATH_SUFFIXES nifti)
find_library(NIFTI2_LIBRARY nifti2)
find_library(ZNZ_LIBRARY znz)
if(NIFTI_INCLUDE_DIR AND NIFTI2_LIBRARY AND ZNZ_LIBRARY)
  add_library(tandem_nifti INTERFACE)
  target_include_directories(tandem_nifti SYSTEM INTERFACE ${NIFTI_INCLUDE_DIR})
  target_link_libraries(tandem_nifti INTERFACE ${NIFTI2_LIBRARY} ${ZNZ_LIBRARY} ZLIB::ZLIB m)
  set(TANDEM_HAVE_NIFTI ON)
else()
  set(TANDEM_HAVE_NIFTI OFF)
endif()

if(TANDEM_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
