# platypos_add_linkcheck(NAME target...): on every build, link the given static libraries plus the freestanding
# runtime (platypos_rt) into one -nostdlib image with tools/linkcheck.sh, and fail the build if that image needs
# anything beyond the backend's Platform symbols. Also registered as the ctest test linkcheck.NAME.
#
# Skipped under sanitizers, whose instrumentation calls into their runtime by design.

set(PLATYPOS_LINKCHECK_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/../tools/linkcheck.sh)

function(platypos_linkcheck_command out_var image)
  set(${out_var}
    ${PLATYPOS_LINKCHECK_SCRIPT}
      --cxx ${CMAKE_CXX_COMPILER} --nm ${CMAKE_NM} --readelf ${CMAKE_READELF}
      --allow "platypos::${PLATYPOS_BACKEND}::" --image ${image}
    PARENT_SCOPE)
endfunction()

function(platypos_add_linkcheck name)
  if(PLATYPOS_SANITIZE)
    message(STATUS "PlatypOS: freestanding link check '${name}' skipped under sanitizers")
    return()
  endif()
  set(dir ${CMAKE_BINARY_DIR}/linkcheck)
  set(image ${dir}/${name}.o)
  set(files)
  foreach(t IN LISTS ARGN ITEMS platypos_rt)
    list(APPEND files $<TARGET_FILE:${t}>)
  endforeach()
  platypos_linkcheck_command(cmd ${image})
  # Runs on every build (no stamp): it takes a fraction of a second, and `cmake --build --target linkcheck_NAME`
  # then always really checks.
  add_custom_target(linkcheck_${name} ALL
    COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
    COMMAND ${cmd} ${files}
    DEPENDS ${ARGN} platypos_rt
    COMMENT "Freestanding link check: ${name}"
    VERBATIM)
  if(BUILD_TESTING OR PLATYPOS_BACKEND STREQUAL "hosted")
    add_test(NAME linkcheck.${name} COMMAND ${cmd} ${files})
  endif()
endfunction()
