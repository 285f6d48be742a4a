# install() and export rules for the library: headers under include/pgq,
# the pgq::core target, and a CMake package so that C++ users can
# find_package(pgq CONFIG) without the worker. tests/install/check.sh
# builds a consumer against the installed tree.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(PGQ_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/pgq)

install(TARGETS pgq_core
        EXPORT pgq-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/pgq
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/include/pgq/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/pgq)
install(EXPORT pgq-targets
        NAMESPACE pgq::
        DESTINATION ${PGQ_INSTALL_CMAKEDIR})

get_target_property(_pgq_core_type pgq_core TYPE)
if(_pgq_core_type STREQUAL "SHARED_LIBRARY")
  set(PGQ_CORE_SHARED TRUE)
else()
  set(PGQ_CORE_SHARED FALSE)
endif()
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/pgqConfig.cmake.in
  ${PROJECT_BINARY_DIR}/pgqConfig.cmake
  INSTALL_DESTINATION ${PGQ_INSTALL_CMAKEDIR})
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/pgqConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/pgqConfig.cmake
              ${PROJECT_BINARY_DIR}/pgqConfigVersion.cmake
        DESTINATION ${PGQ_INSTALL_CMAKEDIR})
