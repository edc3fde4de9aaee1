// SPDX-License-Identifier: Apache-2.0
#include "run/plan.h"

#include <toml++/toml.h>

#include <fstream>
#include <sstream>

#include "core/error.h"

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
      else if (v.is_floating_point()) {
        std::ostringstream os;
        os << *v.value<double>();
        *static_cast<std::string*>(f.target) = os.str();
      } else {
        return false;
      }
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
      if (!a || !a->is_homogeneous(toml::node_type::string)) return false;
      auto& out = *static_cast<std::vector<std::string>*>(f.target);
      out.clear();
      for (const auto& e : *a) out.push_back(*e.value<std::string>());
      return true;
    }
    case Kind::kInts: {
      const toml::array* a = v.as_array();
      if (!a || !a->is_homogeneous(toml::node_type::integer)) return false;
      auto& out = *static_cast<std::vector<int64_t>*>(f.target);
      out.clear();
      for (const auto& e : *a) out.push_back(*e.value<int64_t>());
      return true;
    }
  }
  return false;
}

void bind_table(const toml::table& t, const std::string& name, const std::vector<Field>& fields,
                const std::string& file) {
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
  }
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) out.push_back(part);
  return out;
}

int64_t parse_int(const std::string& s, const std::string& what) {
  std::size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (s.empty() || used != s.size()) throw UsageError(what + ": '" + s + "' is not an integer");
  return v;
}

// --set table.key=value, converted by the key's kind.
void apply_override(const std::string& text,
                    std::vector<std::pair<std::string, std::vector<Field>>>& tables, Plan& plan) {
  const std::string what = "--set " + text;
  auto eq = text.find('=');
  auto dot = text.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
    throw UsageError(what + ": expected TABLE.KEY=VALUE, e.g. jobs.jobs=4");
  }
  const std::string table = text.substr(0, dot), key = text.substr(dot + 1, eq - dot - 1);
  const std::string value = text.substr(eq + 1);
  for (auto& [name, fields] : tables) {
    if (name != table) continue;
    for (const Field& f : fields) {
      if (key != f.key) continue;
      switch (f.kind) {
        case Kind::kString:
        case Kind::kText:
          *static_cast<std::string*>(f.target) = value;
          break;
        case Kind::kBool:
          if (value != "true" && value != "false")
            throw UsageError(what + ": expected true or false");
          *static_cast<bool*>(f.target) = value == "true";
          break;
        case Kind::kInt:
          *static_cast<int64_t*>(f.target) = parse_int(value, what);
          break;
        case Kind::kStrings:
          *static_cast<std::vector<std::string>*>(f.target) = split_commas(value);
          break;
        case Kind::kInts: {
          auto& out = *static_cast<std::vector<int64_t>*>(f.target);
          out.clear();
          for (const auto& p : split_commas(value)) out.push_back(parse_int(p, what));
          break;
        }
      }
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

void require(bool ok, const std::string& file, const std::string& message) {
  if (!ok) throw UsageError(file + ": " + message);
}

void validate(const Plan& p) {
  const std::string& f = p.path;
  require(p.svd.present || p.jobs.present || p.smooth.present, f,
          "the plan has none of the tables [svd], [jobs], [smooth]");
  if (p.svd.present) {
    require(!p.svd.inputs.empty() || !p.svd.random.empty(), f,
            "[svd] needs 'inputs' (an array of files) or 'random' (BxMxN)");
    require(p.svd.inputs.empty() || !p.svd.output.empty(), f,
            "[svd] needs 'output' (a directory) for its inputs");
    require(!(p.svd.values_only && (p.svd.check || p.svd.canonical_signs)), f,
            "[svd] check and canonical_signs need U and Vh, which values_only does not compute");
  }
  if (p.jobs.present) {
    require(!p.jobs.command.empty(), f, "[jobs] needs 'command' (an array: program and arguments)");
    require(!p.jobs.subjects.empty() || !p.jobs.args.empty(), f,
            "[jobs] needs 'subjects' (a file) or 'args' (an array)");
    require(p.jobs.threads_per_job >= 1, f, "[jobs] threads_per_job must be at least 1");
  }
  if (p.smooth.present) {
    require(!p.smooth.input.empty() && !p.smooth.output.empty() && !p.smooth.fwhm.empty(), f,
            "[smooth] needs 'input', 'output' (templates) and 'fwhm'");
    require(!p.smooth.subjects.empty() || !p.smooth.args.empty(), f,
            "[smooth] needs 'subjects' (a file) or 'args' (an array)");
    const std::string& d = p.smooth.device;
    require(d == "auto" || d == "cpu" || d == "gpu", f,
            "[smooth] device must be \"auto\", \"cpu\" or \"gpu\", not \"" + d + "\"");
  }
}

}  // namespace

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
      bind_table(*t, tname, fields, name);
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
  validate(plan);
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
