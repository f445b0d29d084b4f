# Warning set shared by every tapir target. tapir_target_warnings(TARGET)
# applies it; TAPIR_WERROR turns the warnings into errors (scripts/test sets it).
# -Wnull-dereference is left out: g++ 12 reports false positives through
# std::variant::get_if at -O2 (every Expected<T,E>::error() call).
set(TAPIR_WARNING_FLAGS
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused
    -Woverloaded-virtual -Wdouble-promotion
    -Wformat=2 -Wimplicit-fallthrough)
if(TAPIR_WERROR)
  list(APPEND TAPIR_WARNING_FLAGS -Werror)
endif()

function(tapir_target_warnings target)
  target_compile_options(${target} PRIVATE ${TAPIR_WARNING_FLAGS})
endfunction()

# tapir_module(NAME SOURCES... [DEPS libs...]) — a static library for one
# module; DEPS is the module's whole view of the rest of tapir.
# A module with no sources yet is an INTERFACE library, so its dependents
# can already name it.
function(tapir_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS" ${ARGN})
  if(M_SOURCES)
    add_library(${name} STATIC ${M_SOURCES})
    target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name} PUBLIC ${M_DEPS})
    tapir_target_warnings(${name})
  else()
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name} INTERFACE ${M_DEPS})
  endif()
endfunction()

# tapir_glob_module(NAME DEPS...): a module made of every .cpp in the
# current source directory.
function(tapir_glob_module name)
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  tapir_module(${name} SOURCES ${srcs} DEPS ${ARGN})
endfunction()
