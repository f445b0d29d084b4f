# Fails if a module #includes a header of a module it must not depend on.
# The tree is the dependency graph: each module is a folder (a nested one,
# such as dns/io, is a module of its own), and the table below says which
# modules each may use — DESIGN.md's "Modules and dependency direction". The
# static libraries' link lists say the same thing to the linker.
#
#   cmake -DROOT=<source dir> -P tests/layering_check.cmake

cmake_minimum_required(VERSION 3.25)

# module: the modules it may include (itself always). One line per layer,
# lowest first.
set(allowed_base "")
set(allowed_wire "base")
set(allowed_services "base;wire")
set(allowed_dns "base;wire")
set(allowed_loop "base;wire")
set(allowed_tap "base;wire;loop")
set(allowed_flows "base;wire;services;loop;tap")
set(allowed_dns/io "base;wire;services;dns;loop;flows")
set(allowed_stack "base;wire;services;dns;loop;tap;flows;dns/io")
set(allowed_ns "base;wire;tap")
set(allowed_sandbox "base")
set(allowed_app "base;wire;services;dns;loop;tap;flows;dns/io;stack;ns;sandbox")
set(modules base wire services dns loop tap flows dns/io stack ns sandbox app)

# The module a path belongs to: the longest module folder it starts with.
function(module_of path out)
  set(best "")
  foreach(m ${modules})
    string(LENGTH "${m}/" n)
    string(SUBSTRING "${path}" 0 ${n} head)
    string(LENGTH "${best}" nb)
    if(head STREQUAL "${m}/" AND n GREATER nb)
      set(best "${m}")
    endif()
  endforeach()
  set(${out} "${best}" PARENT_SCOPE)
endfunction()

set(violations "")
set(checked 0)
foreach(module ${modules})
  file(GLOB files ${ROOT}/${module}/*.hpp ${ROOT}/${module}/*.cpp)
  foreach(f ${files})
    math(EXPR checked "${checked} + 1")
    file(STRINGS ${f} includes REGEX "^#include \"")
    foreach(line ${includes})
      string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" path "${line}")
      module_of("${path}" target)
      if(target STREQUAL "" OR target STREQUAL module)
        continue()
      endif()
      if(NOT target IN_LIST allowed_${module})
        file(RELATIVE_PATH rel ${ROOT} ${f})
        string(APPEND violations "  ${rel}: includes ${path} (${module} may not depend on ${target})\n")
      endif()
    endforeach()
  endforeach()
endforeach()

# Every folder holding product sources must be a module, or its includes
# would go unchecked.
file(GLOB_RECURSE all_sources RELATIVE ${ROOT} ${ROOT}/*.cpp ${ROOT}/*.hpp)
foreach(f ${all_sources})
  if(f MATCHES "^(tests|bench|build[^/]*|docs|scripts|cmake)/")
    continue()
  endif()
  get_filename_component(dir ${f} DIRECTORY)
  if(NOT dir IN_LIST modules)
    string(APPEND violations "  ${f}: its folder ${dir} is not a module of the layering table\n")
  endif()
endforeach()

if(violations)
  message(FATAL_ERROR "layering violations:\n${violations}")
endif()
message(STATUS "layering: ${checked} files, every #include follows DESIGN.md")
