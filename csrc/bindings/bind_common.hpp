// What every binding file shares: the array types its functions take and the shape checks, each throwing
// ValueError with the argument's name, the expected and the received shape. Only binding files include this
// header (it needs pybind11).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <initializer_list>
#include <string>

#include "vaetk/common.hpp"

namespace vaetk::bindings {

namespace py = pybind11;

// C-contiguous arrays; marked .noconvert(), a binding gets the caller's own buffer (outputs are written in place).
using Doubles = py::array_t<double, py::array::c_style>;
using Indices = py::array_t<index_t, py::array::c_style>;

// "(3, 4)", or "(3,)" for one dimension (Python's tuple notation).
inline std::string shape_of(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.shape(d));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// Throw unless `a` has exactly the shape `shape`.
inline void expect_shape(const py::array& a, const char* name, std::initializer_list<py::ssize_t> shape) {
  bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
  py::ssize_t d = 0;
  for (auto s : shape) ok = ok && a.shape(d++) == s;
  if (!ok) {
    std::string want = "(";
    d = 0;
    for (auto s : shape) want += (d++ ? ", " : "") + std::to_string(s);
    throw py::value_error(std::string(name) + ": expected shape " + want + (shape.size() == 1 ? ",)" : ")") +
                          ", got " + shape_of(a));
  }
}

}  // namespace vaetk::bindings
