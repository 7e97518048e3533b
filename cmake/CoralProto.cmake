# coral_proto_library(<target> ROOT <dir> PROTOS <file.proto>...)
#
# Runs protoc with the C++ generator and coral's own plugin
# (protoc-gen-coral: service handler interfaces and typed clients) over the
# given files, paths relative to ROOT, and builds the result as a static
# library. Generated headers are included as "coral/<svc>/v1/<name>.pb.h" and
# "coral/<svc>/v1/<name>.coral.h".
function(coral_proto_library target)
  cmake_parse_arguments(P "" "ROOT" "PROTOS" ${ARGN})
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/gen)
  file(MAKE_DIRECTORY ${out_dir})
  set(sources)
  foreach(proto IN LISTS P_PROTOS)
    string(REGEX REPLACE "\\.proto$" "" stem ${proto})
    set(outputs ${out_dir}/${stem}.pb.h ${out_dir}/${stem}.pb.cc
                ${out_dir}/${stem}.coral.h ${out_dir}/${stem}.coral.cc)
    add_custom_command(
      OUTPUT ${outputs}
      COMMAND protobuf::protoc
        --plugin=protoc-gen-coral=$<TARGET_FILE:protoc-gen-coral>
        --cpp_out=${out_dir} --coral_out=${out_dir}
        -I ${P_ROOT} ${proto}
      DEPENDS ${P_ROOT}/${proto} protoc-gen-coral protobuf::protoc
      COMMENT "protoc ${proto}"
      VERBATIM)
    list(APPEND sources ${out_dir}/${stem}.pb.cc ${out_dir}/${stem}.coral.cc)
  endforeach()
  add_library(${target} STATIC ${sources})
  target_include_directories(${target} PUBLIC ${out_dir})
  target_link_libraries(${target} PUBLIC protobuf::libprotobuf coral_rpc)
  # Generated code is not ours to warn about.
  target_compile_options(${target} PRIVATE -Wno-unused-parameter)
endfunction()
