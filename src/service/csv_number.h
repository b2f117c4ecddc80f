// A number's CSV cell, one rule for every CSV output (`search`, `like`, `similar`, `analyze`,
// `classify`, `matrix`, `duplicates` --csv, and the server's analyze CSV).
#pragma once
#include <string>

namespace clap::service {

// json_float's text (the shortest that round-trips a float32); an empty cell when `v` is not
// finite (CSV has no null, and every CSV output writes a value it lacks as an empty cell: JSON's
// "null" reached `duplicates --csv` for a damaged duration, hostile pass 17); beyond float32's
// range (a duration of 1e308) the double's own text, as json_num gives JSON.
std::string csv_number(double v);

}  // namespace clap::service
