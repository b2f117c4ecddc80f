// clapsearch.Library's compiled half (library.cpp).
#pragma once
#include <pybind11/pybind11.h>

namespace clap::python {

// Adds _Library and its helpers (check_where, default_db) to the module.
void bind_library(pybind11::module_& m);

}  // namespace clap::python
