// deploy/rbac.yaml against the requests the client makes (kube/client/reads.h lists
// them): every request is granted, and nothing else is.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <set>

#include "kube/client/reads.h"
#include "test_files.h"

namespace meshprobe::kube {
namespace {

struct Rule {
  std::string scope;  // "" for the ClusterRole, else the Role's namespace
  std::set<std::string> groups, resources, verbs, names;
};

std::vector<Rule> rules(const std::string& file = "deploy/rbac.yaml") {
  std::vector<Rule> out;
  for (const YAML::Node& doc : YAML::LoadAll(test::source_file(file))) {
    const std::string kind = doc["kind"].as<std::string>();
    if (kind != "ClusterRole" && kind != "Role") continue;
    const std::string scope = kind == "Role" ? doc["metadata"]["namespace"].as<std::string>() : "";
    for (const YAML::Node& rule : doc["rules"]) {
      Rule r;
      r.scope = scope;
      for (const auto& g : rule["apiGroups"]) r.groups.insert(g.as<std::string>());
      for (const auto& g : rule["resources"]) r.resources.insert(g.as<std::string>());
      for (const auto& g : rule["verbs"]) r.verbs.insert(g.as<std::string>());
      if (rule["resourceNames"]) {
        for (const auto& g : rule["resourceNames"]) r.names.insert(g.as<std::string>());
      }
      out.push_back(r);
    }
  }
  return out;
}

// Where a namespaced request is made: its only namespace, else istio's.
std::string request_namespace(const ApiAccess& access) {
  return access.only_namespace.empty() ? "istio-system" : std::string(access.only_namespace);
}

bool grants(const Rule& rule, const ApiAccess& access) {
  const bool scope_ok =
      rule.scope.empty() || (access.namespaced && rule.scope == request_namespace(access));
  return scope_ok && rule.groups.count(std::string(access.group)) &&
         rule.resources.count(std::string(access.resource)) &&
         rule.verbs.count(std::string(access.verb));
}

TEST(Rbac, GrantsEveryRequestMeshprobeMakes) {
  const std::vector<Rule> all = rules();
  for (const ApiAccess& access : all_api_access()) {
    const bool granted =
        std::any_of(all.begin(), all.end(), [&](const Rule& r) { return grants(r, access); });
    EXPECT_TRUE(granted) << describe_access(access, "istio-system");
  }
}

TEST(Rbac, GrantsOnlyReadVerbs) {
  for (const Rule& rule : rules()) {
    for (const std::string& verb : rule.verbs) {
      EXPECT_THAT(verb, testing::AnyOf("get", "list", "watch"));
    }
  }
}

TEST(Rbac, GrantsNoResourceMeshprobeDoesNotRead) {
  std::set<std::string> read;
  for (const ApiAccess& access : all_api_access()) read.insert(std::string(access.resource));
  for (const Rule& rule : rules()) {
    for (const std::string& resource : rule.resources) {
      EXPECT_TRUE(read.count(resource)) << resource << " is granted but never read";
      EXPECT_NE(resource, "*");
    }
    EXPECT_FALSE(rule.groups.count("*"));
  }
}

TEST(Rbac, NamespacedReadsStayInTheirNamespace) {
  for (const Rule& rule : rules()) {
    for (const ApiAccess& access : all_api_access()) {
      if (access.namespaced && grants(rule, access)) {
        EXPECT_EQ(rule.scope, request_namespace(access))
            << access.resource << " is granted beyond its namespace";
      }
    }
  }
}

TEST(Rbac, TheDefaultNamespaceGrantsOnlyTheKubernetesServicesSlices) {
  for (const Rule& rule : rules()) {
    if (rule.scope != "default") continue;
    EXPECT_EQ(rule.resources, (std::set<std::string>{"endpointslices"}));
    EXPECT_EQ(rule.verbs, (std::set<std::string>{"list", "watch"}));
  }
}

TEST(Rbac, TheControlPlaneReadsNameTheirRule) {
  EXPECT_EQ(describe_access(access::kListNodes, "istio-system"),
            "verb \"list\" on \"nodes\" (cluster-wide)");
  EXPECT_EQ(describe_access(access::kListKubernetesEndpointSlices, "istio-system"),
            "verb \"list\" on \"endpointslices\" in API group \"discovery.k8s.io\" in namespace "
            "\"default\"");
}

TEST(Rbac, ConfigMapsAreLimitedToTheMeshRootAndTheMeshConfig) {
  for (const Rule& rule : rules()) {
    if (rule.resources.count("configmaps")) {
      EXPECT_EQ(rule.names, (std::set<std::string>{"istio-ca-root-cert", "istio"}));
    }
  }
}

constexpr char kAdmissionRbac[] =
    "deploy/kubernetes/components/apiserver-vantage/admission-rbac.yaml";

TEST(Rbac, TheAdmissionRoleGrantsEveryDryRunCreate) {
  const std::vector<Rule> all = rules(kAdmissionRbac);
  for (const ApiAccess& access : admission_api_access()) {
    const bool granted = std::any_of(all.begin(), all.end(), [&](const Rule& r) {
      return r.groups.count(std::string(access.group)) &&
             r.resources.count(std::string(access.resource)) &&
             r.verbs.count(std::string(access.verb));
    });
    EXPECT_TRUE(granted) << describe_access(access, "meshprobe-canary");
  }
}

TEST(Rbac, TheAdmissionRoleGrantsOnlyCreateInTheCanaryNamespace) {
  std::set<std::string> created;
  for (const ApiAccess& access : admission_api_access())
    created.insert(std::string(access.resource));
  for (const Rule& rule : rules(kAdmissionRbac)) {
    EXPECT_EQ(rule.scope, "meshprobe-canary");
    EXPECT_EQ(rule.verbs, (std::set<std::string>{"create"}));
    for (const std::string& resource : rule.resources)
      EXPECT_TRUE(created.count(resource)) << resource;
  }
}

}  // namespace
}  // namespace meshprobe::kube
