// docs/diagnoses.md has a section for every code meshprobe can give: each
// probe diagnosis of the catalogue (probes/diagnosis.h) and each webhook
// hygiene code (kube/hygiene.h). A new code without a section fails here.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kube/hygiene.h"
#include "probes/diagnosis.h"
#include "test_files.h"

namespace meshprobe {
namespace {

std::vector<std::string> every_code() {
  std::vector<std::string> codes;
  for (Diagnosis d : kAllDiagnoses) codes.emplace_back(code(d));
  for (std::string_view c : kube::kHygieneCodes) codes.emplace_back(c);
  return codes;
}

std::string anchor(const std::string& code) { return "<a id=\"" + code + "\"></a>"; }

// The text from the code's anchor to the next one.
std::string section(const std::string& doc, const std::string& code) {
  const std::size_t start = doc.find(anchor(code));
  if (start == std::string::npos) return "";
  const std::size_t end = doc.find("<a id=\"", start + 1);
  return doc.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

TEST(DiagnosisDocs, EveryCodeHasASection) {
  const std::string doc = test::source_file(std::string(kDiagnosesDoc));
  ASSERT_FALSE(doc.empty()) << kDiagnosesDoc << " is missing";
  for (const std::string& code : every_code()) {
    EXPECT_NE(doc.find(anchor(code) + "\n### " + code + "\n"), std::string::npos)
        << kDiagnosesDoc << " has no section for " << code << ": add `" << anchor(code)
        << "` and `### " << code << "`";
  }
}

TEST(DiagnosisDocs, EveryFailureSectionSaysHowToConfirmItAndTheRemedy) {
  const std::string doc = test::source_file(std::string(kDiagnosesDoc));
  for (const std::string& code : every_code()) {
    if (code == "ok") continue;
    const std::string text = section(doc, code);
    EXPECT_NE(text.find("Confirm"), std::string::npos) << code;
    EXPECT_NE(text.find("Remedy"), std::string::npos) << code;
  }
}

TEST(DiagnosisDocs, TheDocLinkIsThePageAndTheCodesAnchor) {
  EXPECT_EQ(doc_link("tcp_timeout"), "docs/diagnoses.md#tcp_timeout");
}

}  // namespace
}  // namespace meshprobe
