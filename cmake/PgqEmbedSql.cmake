# pgq_embed_sql(TARGET DIR): compiles every DIR/*.sql into TARGET as a table of
# named statements (see src/queries/sql_files.h). The text is embedded at build
# time, so the library needs no files at run time; editing a .sql file
# rebuilds the table.
function(pgq_embed_sql target dir)
  file(GLOB sql_files CONFIGURE_DEPENDS ${dir}/*.sql)
  list(SORT sql_files)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/embedded_sql.cc)
  add_executable(pgq_embed_sql ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/embed_sql.cc)
  set_target_properties(pgq_embed_sql PROPERTIES CXX_STANDARD 20)
  add_custom_command(
    OUTPUT ${out}
    COMMAND pgq_embed_sql ${out} ${sql_files}
    DEPENDS pgq_embed_sql ${sql_files}
    COMMENT "Embedding ${dir}/*.sql"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
