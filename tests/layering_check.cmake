# Fails if a module #includes a header of a module it must not depend on.
# The allowed directions are DESIGN.md's "Modules and dependency direction";
# the static libraries' link lists say the same thing to the linker.
#
#   cmake -DROOT=<source dir> -P tests/layering_check.cmake

cmake_minimum_required(VERSION 3.25)

set(allowed_base "base")
set(allowed_l2l4/wire "base;l2l4/wire")
set(allowed_services "base;l2l4/wire;services")
set(allowed_dns "base;l2l4/wire;dns")
set(allowed_tap "base;l2l4/wire;tap")
set(allowed_ns "base;l2l4/wire;ns")
set(allowed_l2l4 "base;l2l4/wire;services;dns;tap;l2l4")
set(allowed_app "base;l2l4/wire;services;dns;tap;ns;l2l4;app")
set(modules base l2l4/wire services dns tap ns l2l4 app)
set(all_roots base l2l4 services dns tap ns app)

set(violations "")
foreach(module ${modules})
  file(GLOB files ${ROOT}/${module}/*.hpp ${ROOT}/${module}/*.cpp)
  foreach(f ${files})
    file(STRINGS ${f} includes REGEX "^#include \"")
    foreach(line ${includes})
      string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" path "${line}")
      # Which module does the included header belong to?
      set(target "")
      if(path MATCHES "^l2l4/wire/")
        set(target "l2l4/wire")
      else()
        string(REGEX REPLACE "/.*" "" root "${path}")
        if(root IN_LIST all_roots)
          set(target "${root}")
        endif()
      endif()
      if(target STREQUAL "")
        continue()
      endif()
      if(NOT target IN_LIST allowed_${module})
        file(RELATIVE_PATH rel ${ROOT} ${f})
        string(APPEND violations "  ${rel}: includes ${path} (${module} may not depend on ${target})\n")
      endif()
    endforeach()
  endforeach()
endforeach()

if(violations)
  message(FATAL_ERROR "layering violations:\n${violations}")
endif()
message(STATUS "layering: every #include follows DESIGN.md")
