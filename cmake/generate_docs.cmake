# Runs the built clapsearch to write its man page and completion scripts (see install.cmake),
# gzipped where Debian wants them gzipped (man pages, changelog).
#   cmake -DEXE=path/to/clapsearch [-DEMULATOR=runner] -DOUT=dir -DCHANGELOG=file -P generate_docs.cmake
# EMULATOR: what runs a cross-built binary here (CMAKE_CROSSCOMPILING_EMULATOR: scripts/build-arm64.sh's qemu-run).
file(MAKE_DIRECTORY "${OUT}")
function(run_to file)
  execute_process(COMMAND ${EMULATOR} "${EXE}" ${ARGN} OUTPUT_FILE "${OUT}/${file}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "clapsearch ${ARGN} failed (${rc})")
  endif()
endfunction()
run_to(clapsearch.1 manpage)
run_to(clapsearch.bash completion bash)
run_to(_clapsearch completion zsh)
run_to(clapsearch.fish completion fish)
# A native package (no Debian revision): changelog.gz, not changelog.Debian.gz (lintian).
configure_file("${CHANGELOG}" "${OUT}/changelog" COPYONLY)
# -n: no name or time stamp in the header, so the file is the same build after build.
foreach(f clapsearch.1 changelog)
  execute_process(COMMAND gzip -9nf "${OUT}/${f}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gzip ${f} failed")
  endif()
endforeach()
