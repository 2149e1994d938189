# hearth_chat_template: the Jinja2-subset interpreter that renders models' chat templates.
add_library(hearth_chat_template
  ${CMAKE_CURRENT_LIST_DIR}/chat_template.cc
  ${CMAKE_CURRENT_LIST_DIR}/jinja_builtins.cc
  ${CMAKE_CURRENT_LIST_DIR}/jinja_filters.cc
  ${CMAKE_CURRENT_LIST_DIR}/jinja_interpreter.cc
  ${CMAKE_CURRENT_LIST_DIR}/jinja_lexer.cc
  ${CMAKE_CURRENT_LIST_DIR}/jinja_parser.cc
  ${CMAKE_CURRENT_LIST_DIR}/jinja_string.cc
  ${CMAKE_CURRENT_LIST_DIR}/jinja_value.cc)
target_include_directories(hearth_chat_template PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(hearth_chat_template PUBLIC hearth_core nlohmann_json::nlohmann_json
                      PRIVATE hearth_read_file)
