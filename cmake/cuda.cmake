# SPDX-License-Identifier: Apache-2.0
# TANDEM_CUDA=AUTO builds cuda/ whenever nvcc is found; ON insists; OFF never looks.
set(TANDEM_HAVE_CUDA OFF)
if(NOT TANDEM_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # sm_90 machine code for Hopper plus compute_75 PTX that the driver compiles for any other card.
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES "75-virtual;90-real")
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    if(CMAKE_VERSION VERSION_LESS 3.25.2)
      # CMake 3.25.0-1 (Debian 12's) marks CUDA::nvToolsExt deprecated without checking that the
      # target exists when the project requires CMake >= 3.25, and CUDA 12.9 and later ship no
      # libnvToolsExt: configuring fails. That branch is skipped below 3.25; nothing here uses
      # nvToolsExt.
      set(_tandem_min_version ${CMAKE_MINIMUM_REQUIRED_VERSION})
      set(CMAKE_MINIMUM_REQUIRED_VERSION 3.24)
      find_package(CUDAToolkit REQUIRED)
      set(CMAKE_MINIMUM_REQUIRED_VERSION ${_tandem_min_version})
    else()
      find_package(CUDAToolkit REQUIRED)
    endif()
    set(TANDEM_HAVE_CUDA ON)
  elseif(TANDEM_CUDA STREQUAL "ON")
    message(FATAL_ERROR "TANDEM_CUDA=ON but no CUDA compiler (nvcc) was found")
  else()
    message(STATUS "nvcc not found: building the CPU backend only")
  endif()
endif()
