#include "support/user_store.h"

#include <vector>

namespace clap::test {

store::ModelIdentity small_model() {
  store::ModelIdentity m;
  m.id = "org/model";
  m.revision = "local";
  m.config_hash = std::string(64, 'a');
  m.dim = 4;
  return m;
}

int64_t put_small_track(store::Store& s, const std::string& path, char hash) {
  store::Track t;
  t.path = path;
  t.size = 10;
  t.mtime_ns = 1;
  t.content_hash = std::string(64, hash);
  t.duration_s = 30;
  std::vector<store::WindowRecord> ws(1);
  ws[0].end_s = 10;
  ws[0].embedding = {1, 0, 0, 0};
  const std::vector<float> e = {1, 0, 0, 0};
  return s.put_track(t, ws, e.data());
}

int64_t add_plain_user(store::Store& s, const std::string& name, bool admin) {
  store::UserRecord u;
  u.name = name;
  u.password_encrypted = "v1:00";
  u.created_at = 1700000000;
  u.admin = admin;
  return s.add_user(u);
}

}  // namespace clap::test
