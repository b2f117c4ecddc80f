# Install rules (`cmake --install build [--prefix P]`) and the Debian package (`cmake --build
# build --target package` -> build/clapsearch_<version>_<arch>.deb). The man page and the shell
# completions are generated at build time by the freshly built binary from its own options
# (cmake/generate_docs.cmake), so they cannot drift from --help.
include(GNUInstallDirs)

set(CLAPSEARCH_GEN_DIR ${CMAKE_BINARY_DIR}/share)
set(CLAPSEARCH_GENERATED
    ${CLAPSEARCH_GEN_DIR}/clapsearch.1.gz ${CLAPSEARCH_GEN_DIR}/clapsearch.bash ${CLAPSEARCH_GEN_DIR}/_clapsearch
    ${CLAPSEARCH_GEN_DIR}/clapsearch.fish ${CLAPSEARCH_GEN_DIR}/changelog.gz)
add_custom_command(
  OUTPUT ${CLAPSEARCH_GENERATED}
  COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:clapsearch> "-DEMULATOR=${CMAKE_CROSSCOMPILING_EMULATOR}" -DOUT=${CLAPSEARCH_GEN_DIR}
          -DCHANGELOG=${CMAKE_SOURCE_DIR}/packaging/debian/changelog -P ${CMAKE_SOURCE_DIR}/cmake/generate_docs.cmake
  DEPENDS clapsearch ${CMAKE_SOURCE_DIR}/cmake/generate_docs.cmake ${CMAKE_SOURCE_DIR}/packaging/debian/changelog
  COMMENT "Generating the man page and shell completions from clapsearch itself"
  VERBATIM)
add_custom_target(clapsearch_docs ALL DEPENDS ${CLAPSEARCH_GENERATED})

install(TARGETS clapsearch RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CLAPSEARCH_GEN_DIR}/clapsearch.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${CLAPSEARCH_GEN_DIR}/clapsearch.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME clapsearch)
install(FILES ${CLAPSEARCH_GEN_DIR}/_clapsearch DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
install(FILES ${CLAPSEARCH_GEN_DIR}/clapsearch.fish DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d)
install(FILES packaging/systemd/clapsearch.service packaging/systemd/clapsearch-index.service
              packaging/systemd/clapsearch-index.timer packaging/systemd/clapsearch-mix.service
              packaging/systemd/clapsearch-mix.timer
        DESTINATION lib/systemd/system)
install(FILES packaging/systemd/user/clapsearch.service DESTINATION lib/systemd/user)
install(FILES docs/operations-service.md packaging/config/clapsearch.toml DESTINATION ${CMAKE_INSTALL_DOCDIR})
# The players' plugins (docs/integrations.md): beets loads clapsearch.py through its pluginpath;
# Navidrome takes clapsearch.ndp copied into its plugins folder.
install(FILES contrib/beets/clapsearch.py DESTINATION ${CMAKE_INSTALL_DATADIR}/clapsearch/beets)
if(CLAPSEARCH_NAVIDROME_PLUGIN)
  install(FILES ${CMAKE_BINARY_DIR}/clapsearch.ndp DESTINATION ${CMAKE_INSTALL_DATADIR}/clapsearch/navidrome)
endif()
install(FILES packaging/debian/copyright ${CLAPSEARCH_GEN_DIR}/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The settings file goes to GNUInstallDirs' sysconfdir for the prefix in effect *at install
# time* (/etc for /usr, /etc/opt/... for /opt/..., PREFIX/etc otherwise): the configure-time
# CMAKE_INSTALL_FULL_SYSCONFDIR would send `cmake --install --prefix P` to /usr/local/etc.
install(CODE "
  if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
    set(_clapsearch_etc /etc)
  elseif(CMAKE_INSTALL_PREFIX MATCHES \"^/opt/\")
    set(_clapsearch_etc \"/etc\${CMAKE_INSTALL_PREFIX}\")
  else()
    set(_clapsearch_etc \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SYSCONFDIR}\")
  endif()
  file(INSTALL DESTINATION \"\${_clapsearch_etc}/clapsearch\" TYPE FILE
       FILES \"${CMAKE_SOURCE_DIR}/packaging/config/clapsearch.toml\")
")

# --- Debian package (CPack) ----------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME clapsearch)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "clapsearch maintainers <maintainers@users.noreply.b-seed-7999c98a.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "neural music search with CLAP (text to songs, songs to songs)")
# The long description; CPack puts the summary before it and indents it as Debian wants.
set(CPACK_PACKAGE_DESCRIPTION
    "clapsearch indexes music folders with a CLAP audio-text model and finds tracks
by a text description, by a piece of audio or by another track, builds
playlists, finds duplicates and serves a web page and REST API over the index.
It runs natively on the CPU, with no Python.

The package ships systemd units: clapsearch.service (the server),
clapsearch-index.service with a nightly timer, and a user unit; a beets
plugin and a Navidrome plugin (/usr/share/clapsearch); `clapsearch radio`
keeps an MPD queue playing similar songs.")
# The players the package plugs into (radio speaks MPD's protocol itself: cli/mpd_protocol.h).
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "beets, mpd")
# The Python package (python/CMakeLists.txt: /usr/lib/python3/dist-packages/clapsearch) is in
# this package, not a python3-clapsearch of its own: its module links the whole engine
# statically, so a second package would ship a second copy. It needs numpy when imported.
if(CLAPSEARCH_PYTHON)
  string(APPEND CPACK_PACKAGE_DESCRIPTION "

It includes the Python ${CLAPSEARCH_PYTHON_VERSION} package clapsearch (import clapsearch),
with the same engine and index, and a drop-in for LAION's laion_clap.")
  string(APPEND CPACK_DEBIAN_PACKAGE_SUGGESTS ", python3 (>= ${CLAPSEARCH_PYTHON_VERSION}), python3 (<< ${Python_VERSION_MAJOR}.${CLAPSEARCH_PYTHON_NEXT_MINOR}), python3-numpy")
endif()
# The install rules see prefix /usr and a DESTDIR, so the settings file lands in /etc.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# A cross build packages for its target (scripts/package-arm64.sh): dpkg --print-architecture
# would name the host's, and dpkg-shlibdeps reads the host's dpkg database, which holds no
# arm64 libraries; the script works the Depends out from the sysroot packages' shlibs files
# and passes them as CLAPSEARCH_DEB_DEPENDS.
if(CMAKE_CROSSCOMPILING AND CMAKE_SYSTEM_PROCESSOR STREQUAL "aarch64")
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
endif()
set(CLAPSEARCH_DEB_DEPENDS "" CACHE STRING "Depends of the Debian package, instead of dpkg-shlibdeps' (cross builds)")
if(CLAPSEARCH_DEB_DEPENDS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "${CLAPSEARCH_DEB_DEPENDS}")
elseif(CMAKE_CROSSCOMPILING)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)  # package only through scripts/package-arm64.sh
else()
  # FFmpeg, Chromaprint and libsoxr are loaded at run time (src/audio/ffmpeg_library.h), so no
  # file of the package names them in DT_NEEDED and dpkg-shlibdeps does not see them: their
  # packages come from the shlibs files of the installed libraries, as dpkg-shlibdeps reads them
  # (a soname libNAME.so.VERSION is the line "NAME VERSION deps"). CPack adds shlibdeps' own.
  # (Not on a system without dpkg: no Debian package is made there, and its build must configure.)
  file(GLOB clapsearch_shlibs_files /var/lib/dpkg/info/*.shlibs)
  set(clapsearch_loaded_depends "")
  if(NOT clapsearch_shlibs_files)
    set(CLAPSEARCH_LOADED_SONAMES_FOR_DEPENDS "")
  else()
    set(CLAPSEARCH_LOADED_SONAMES_FOR_DEPENDS ${CLAPSEARCH_LOADED_SONAMES})
  endif()
  foreach(soname ${CLAPSEARCH_LOADED_SONAMES_FOR_DEPENDS})
    string(REGEX MATCH "^(.+)\\.so\\.(.+)$" _ "${soname}")
    set(dep "")
    foreach(shlibs ${clapsearch_shlibs_files})
      file(STRINGS ${shlibs} lines REGEX "^${CMAKE_MATCH_1} ${CMAKE_MATCH_2} ")
      if(lines)
        list(GET lines 0 line)
        # (REGEX MATCH: REGEX REPLACE applies a "^" again after each match it replaced.)
        string(REGEX MATCH "^[^ ]+ [^ ]+ +(.+)$" _ "${line}")
        set(dep "${CMAKE_MATCH_1}")
        break()
      endif()
    endforeach()
    if(NOT dep)
      message(FATAL_ERROR "no shlibs entry for ${soname} (the Debian package must depend on it): install its package")
    endif()
    list(APPEND clapsearch_loaded_depends "${dep}")
  endforeach()
  if(clapsearch_loaded_depends)
    list(REMOVE_DUPLICATES clapsearch_loaded_depends)
    list(JOIN clapsearch_loaded_depends ", " CPACK_DEBIAN_PACKAGE_DEPENDS)
  endif()
endif()
set(CPACK_DEBIAN_PACKAGE_SECTION sound)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The project has no public address yet: give it when packaging (-DCLAPSEARCH_HOMEPAGE=https://...).
set(CLAPSEARCH_HOMEPAGE "" CACHE STRING "Homepage field of the Debian package")
if(CLAPSEARCH_HOMEPAGE)
  set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${CLAPSEARCH_HOMEPAGE}")
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_SOURCE_DIR}/packaging/debian/conffiles)
include(CPack)
