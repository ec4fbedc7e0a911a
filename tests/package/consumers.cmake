# The consumer programs and their tests, shared by both ways of consuming
# hybrid; the including project has made hybrid's targets available.
option(HYBRID_CONSUMER_ONNX "also consume the onnx component" OFF)
# dist where the tested hybrid has it (built with MPI): the parent passes HYBRID_CONSUMER_DIST.
option(HYBRID_CONSUMER_DIST "also consume the dist component" OFF)

enable_testing()
# --test-command runs ctest here: every program must succeed.
function(hybrid_consumer name source target)
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/${source})
  target_link_libraries(${name} PRIVATE ${target})
  add_test(NAME ${name} COMMAND ${name})
endfunction()

hybrid_consumer(app consumer.cpp hybrid::hybrid)
# Each component's headers with its binary dependency carried by its target.
hybrid_consumer(data_app data_consumer.cpp hybrid::data)
if(HYBRID_CONSUMER_ONNX)
  hybrid_consumer(onnx_app onnx_consumer.cpp hybrid::onnx)
endif()
if(HYBRID_CONSUMER_DIST)
  hybrid_consumer(dist_app dist_consumer.cpp hybrid::dist)
endif()
