// SPDX-License-Identifier: Apache-2.0
#include "run/plan.h"

#include <toml++/toml.h>

#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "run/plan_check.h"

namespace tandem::run {

namespace {

// How a key's value is read. kText takes a string or a number (fwhm = 6, timeout = 90) as text.
enum class Kind { kString, kText, kBool, kInt, kStrings, kInts };

struct Field {
  const char* key;
  Kind kind;
  void* target;
};

const char* kind_text(Kind k) {
  switch (k) {
    case Kind::kString:
      return "a string";
    case Kind::kText:
      return "a string or a number";
    case Kind::kBool:
      return "true or false";
    case Kind::kInt:
      return "an integer";
    case Kind::kStrings:
      return "an array of strings";
    case Kind::kInts:
      return "an array of integers";
  }
  return "";
}

std::vector<Field> svd_fields(SvdPlan& p) {
  return {{"inputs", Kind::kStrings, &p.inputs},
          {"random", Kind::kString, &p.random},
          {"output", Kind::kString, &p.output},
          {"device", Kind::kString, &p.device},
          {"algorithm", Kind::kString, &p.algorithm},
          {"gpus", Kind::kInts, &p.gpus},
          {"economy", Kind::kBool, &p.economy},
          {"values_only", Kind::kBool, &p.values_only},
          {"check", Kind::kBool, &p.check},
          {"canonical_signs", Kind::kBool, &p.canonical_signs},
          {"threads", Kind::kInt, &p.threads}};
}

std::vector<Field> jobs_fields(JobsPlan& p) {
  return {{"subjects", Kind::kString, &p.subjects},
          {"args", Kind::kStrings, &p.args},
          {"command", Kind::kStrings, &p.command},
          {"jobs", Kind::kInt, &p.jobs},
          {"timeout", Kind::kText, &p.timeout},
          {"retries", Kind::kInt, &p.retries},
          {"threads_per_job", Kind::kInt, &p.threads_per_job},
          {"mem_per_job", Kind::kText, &p.mem_per_job},
          {"outputs", Kind::kStrings, &p.outputs},
          {"results", Kind::kString, &p.results},
          {"joblog", Kind::kString, &p.joblog},
          {"shell", Kind::kBool, &p.shell}};
}

std::vector<Field> smooth_fields(SmoothPlan& p) {
  return {
      {"subjects", Kind::kString, &p.subjects}, {"args", Kind::kStrings, &p.args},
      {"input", Kind::kString, &p.input},       {"output", Kind::kString, &p.output},
      {"fwhm", Kind::kText, &p.fwhm},           {"threads_per_job", Kind::kInt, &p.threads_per_job},
      {"results", Kind::kString, &p.results},   {"device", Kind::kString, &p.device}};
}

std::string known_keys(const std::vector<Field>& fields) {
  std::string out;
  for (const Field& f : fields) out += (out.empty() ? "" : ", ") + std::string(f.key);
  return out;
}

std::string where(const std::string& file, const toml::node& node) {
  return file + ":" + std::to_string(node.source().begin.line);
}

// The shortest text that reads back as `v` ("6.1", not "6.1000000000000001" or "6.1" cut to six
// digits as a stream would), so that fwhm = 6.1234567 reaches `tandem smooth` unchanged.
std::string number_text(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// Assigns one TOML value to its field; false when the type does not match.
bool assign(const Field& f, const toml::node& v) {
  switch (f.kind) {
    case Kind::kString:
      if (!v.is_string()) return false;
      *static_cast<std::string*>(f.target) = *v.value<std::string>();
      return true;
    case Kind::kText:
      if (v.is_string())
        *static_cast<std::string*>(f.target) = *v.value<std::string>();
      else if (v.is_integer())
        *static_cast<std::string*>(f.target) = std::to_string(*v.value<int64_t>());
      else if (v.is_floating_point())
        *static_cast<std::string*>(f.target) = number_text(*v.value<double>());
      else
        return false;
      return true;
    case Kind::kBool:
      if (!v.is_boolean()) return false;
      *static_cast<bool*>(f.target) = *v.value<bool>();
      return true;
    case Kind::kInt:
      if (!v.is_integer()) return false;
      *static_cast<int64_t*>(f.target) = *v.value<int64_t>();
      return true;
    case Kind::kStrings: {
      const toml::array* a = v.as_array();
      // An empty array is of the right type; check_plan says that it is empty.
      if (!a || (!a->empty() && !a->is_homogeneous(toml::node_type::string))) return false;
      auto& out = *static_cast<std::vector<std::string>*>(f.target);
      out.clear();
      for (const auto& e : *a) out.push_back(*e.value<std::string>());
      return true;
    }
    case Kind::kInts: {
      const toml::array* a = v.as_array();
      if (!a || (!a->empty() && !a->is_homogeneous(toml::node_type::integer))) return false;
      auto& out = *static_cast<std::vector<int64_t>*>(f.target);
      out.clear();
      for (const auto& e : *a) out.push_back(*e.value<int64_t>());
      return true;
    }
  }
  return false;
}

void bind_table(const toml::table& t, const std::string& name, const std::vector<Field>& fields,
                Plan& plan) {
  const std::string& file = plan.path;
  for (const auto& [key, value] : t) {
    const Field* field = nullptr;
    for (const Field& f : fields) {
      if (key.str() == f.key) field = &f;
    }
    if (!field) {
      throw UsageError(where(file, value) + ": [" + name + "] has no key '" +
                       std::string(key.str()) + "' (known: " + known_keys(fields) + ")");
    }
    if (!assign(*field, value)) {
      throw UsageError(where(file, value) + ": [" + name + "] " + field->key + ": expected " +
                       kind_text(field->kind));
    }
    plan.origins[name + "." + field->key] = where(file, value);
  }
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) out.push_back(part);
  return out;
}

// VALUE of --set as one TOML value ("4", "true", "\"r5\"", "[\"a\", \"b\"]"), or null when it
// is not one (a bare word such as r5 or 30m, or a,b).
std::optional<toml::table> parse_value(const std::string& value) {
  try {
    toml::table t = toml::parse("value = " + value);
    // "4\nother = 5" parses too, but is not one value.
    if (t.size() == 1 && t.contains("value")) return t;
  } catch (const toml::parse_error&) {
  }
  return std::nullopt;
}

// Sets one field from --set's VALUE: as TOML when it is a TOML value of the field's type; a bare
// scalar (not quoted, not an array) for a text field is its own text, so that the forms people
// type in a shell (svd.output=r5, jobs.timeout=30m, jobs.args=a,b) keep working.
void set_field(const Field& f, const std::string& value, const std::string& what) {
  std::optional<toml::table> parsed = parse_value(value);
  const toml::node* node = parsed ? parsed->get("value") : nullptr;
  if (node && assign(f, *node)) return;
  const bool bare = !node || !(node->is_string() || node->is_array());
  if (bare && (f.kind == Kind::kString || f.kind == Kind::kText)) {
    *static_cast<std::string*>(f.target) = value;
    return;
  }
  if (bare && f.kind == Kind::kStrings) {
    *static_cast<std::vector<std::string>*>(f.target) = split_commas(value);
    return;
  }
  if (bare && f.kind == Kind::kInts && !value.empty()) {
    // The comma form of an integer array (svd.gpus=0,1), each part a TOML integer.
    std::vector<int64_t> out;
    for (const std::string& part : split_commas(value)) {
      std::optional<toml::table> p = parse_value(part);
      const toml::node* n = p ? p->get("value") : nullptr;
      if (!n || !n->is_integer()) {
        throw UsageError(what + ": expected " + kind_text(f.kind) + ", not '" + value + "'");
      }
      out.push_back(*n->value<int64_t>());
    }
    *static_cast<std::vector<int64_t>*>(f.target) = out;
    return;
  }
  throw UsageError(what + ": expected " + kind_text(f.kind) + ", not '" + value + "'");
}

// --set table.key=value.
void apply_override(const std::string& text,
                    std::vector<std::pair<std::string, std::vector<Field>>>& tables, Plan& plan) {
  auto eq = text.find('=');
  auto dot = text.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
    throw UsageError("--set " + text + ": expected TABLE.KEY=VALUE, e.g. jobs.jobs=4");
  }
  const std::string table = text.substr(0, dot), key = text.substr(dot + 1, eq - dot - 1);
  const std::string value = text.substr(eq + 1);
  const std::string what = "--set " + text.substr(0, eq);
  for (auto& [name, fields] : tables) {
    if (name != table) continue;
    for (const Field& f : fields) {
      if (key != f.key) continue;
      set_field(f, value, what);
      plan.origins[table + "." + key] = what;
      if (table == "svd") plan.svd.present = true;
      if (table == "jobs") plan.jobs.present = true;
      if (table == "smooth") plan.smooth.present = true;
      return;
    }
    throw UsageError(what + ": [" + table + "] has no key '" + key +
                     "' (known: " + known_keys(fields) + ")");
  }
  throw UsageError(what + ": no table '" + table + "' (known: svd, jobs, smooth)");
}

}  // namespace

bool Plan::given(const std::string& table, const std::string& key) const {
  return origins.count(table + "." + key) > 0;
}

std::string Plan::where(const std::string& table, const std::string& key) const {
  auto it = origins.find(table + "." + key);
  if (it == origins.end()) return path + ": [" + table + "] " + key;
  // An override is named by itself; a file's value by its line and key.
  if (it->second.rfind("--set ", 0) == 0) return it->second;
  return it->second + ": [" + table + "] " + key;
}

Plan parse_plan_text(const std::string& text, const std::string& name,
                     const std::vector<std::string>& overrides) {
  Plan plan;
  plan.path = name;
  std::vector<std::pair<std::string, std::vector<Field>>> tables = {
      {"svd", svd_fields(plan.svd)},
      {"jobs", jobs_fields(plan.jobs)},
      {"smooth", smooth_fields(plan.smooth)}};
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    throw UsageError(name + ":" + std::to_string(e.source().begin.line) + ": " +
                     std::string(e.description()));
  }
  for (const auto& [key, value] : root) {
    const toml::table* t = value.as_table();
    bool known = false;
    for (auto& [tname, fields] : tables) {
      if (key.str() != tname) continue;
      known = true;
      if (!t)
        throw UsageError(where(name, value) + ": '" + tname + "' must be a table ([" + tname +
                         "])");
      bind_table(*t, tname, fields, plan);
    }
    if (!known) {
      throw UsageError(where(name, value) + ": unknown table or key '" + std::string(key.str()) +
                       "' (a plan has [svd], [jobs] and [smooth])");
    }
  }
  plan.svd.present = root.contains("svd");
  plan.jobs.present = root.contains("jobs");
  plan.smooth.present = root.contains("smooth");
  for (const std::string& o : overrides) apply_override(o, tables, plan);
  check_plan(plan);
  return plan;
}

Plan parse_plan(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) throw UsageError(path + ": cannot read the plan");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_plan_text(ss.str(), path, overrides);
}

}  // namespace tandem::run
