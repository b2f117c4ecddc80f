#include "service/convert.h"

#include <filesystem>

#include "core/error.h"
#include "index/identity.h"

namespace clap::service {

ConvertResult convert(const ConvertRequest& r) {
  ConvertResult out;
  out.resolved = hub::resolve_model(r.model, r.model_options);
  out.files = index::model_files_of(out.resolved);
  out.report = convert_model(out.files, r.out_dir, r.options);
  try {
    ClapModel::load(out.report.out_dir);
  } catch (const Error& e) {
    remove_conversion(out.report);  // its files only: the folder may hold others
    throw Error(std::string("the converted folder does not load (its files removed): ") + e.what());
  }
  return out;
}

}  // namespace clap::service
