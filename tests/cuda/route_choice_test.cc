// SPDX-License-Identifier: Apache-2.0
// Route choice and device layout: pure host logic, runs without a device.
#include "route_choice.h"

#include <gtest/gtest.h>

#include "gpu_worker.h"

namespace tandem::cuda {
namespace {

SvdOptions with(Algorithm a, bool full = true) {
  SvdOptions o;
  o.algorithm = a;
  o.full_matrices = full;
  return o;
}

TEST(RouteChoiceTest, SmallMatricesGoToGesvdjBatched) {
  std::string note;
  EXPECT_EQ(choose_route({32, 17}, DType::kFloat32, with(Algorithm::kAuto), {}, &note),
            Route::kGesvdjBatched);
  EXPECT_EQ(choose_route({1, 1}, DType::kFloat64, with(Algorithm::kJacobi), {}, &note),
            Route::kGesvdjBatched);
  EXPECT_EQ(note, "");
}

TEST(RouteChoiceTest, ForcedRoutesAreHonoured) {
  std::string note;
  EXPECT_EQ(choose_route({500, 500}, DType::kFloat64, with(Algorithm::kPolar), {}, &note),
            Route::kPolar);
  EXPECT_EQ(choose_route({16, 16}, DType::kFloat64, with(Algorithm::kQr), {}, &note), Route::kQr);
  EXPECT_EQ(choose_route({500, 400}, DType::kFloat32, with(Algorithm::kJacobi), {}, &note),
            Route::kGesvdj);
  EXPECT_EQ(note, "");
}

TEST(RouteChoiceTest, LargeMatricesUseJacobiOrQrForFullNonSquare) {
  std::string note;
  EXPECT_EQ(choose_route({1000, 1000}, DType::kFloat64, with(Algorithm::kAuto), {}, &note),
            Route::kGesvdj);
  // Past the int-sized gesvdj API (p > 46340) the 64-bit Xgesvd takes over.
  EXPECT_EQ(choose_route({300, 60000}, DType::kFloat64, with(Algorithm::kAuto, false), {}, &note),
            Route::kQr);
  EXPECT_EQ(choose_route({300, 6000}, DType::kFloat64, with(Algorithm::kAuto, false), {}, &note),
            Route::kGesvdj);
  EXPECT_EQ(choose_route({1000, 40}, DType::kFloat32, with(Algorithm::kAuto), {}, &note),
            Route::kQr);
}

TEST(RouteChoiceTest, Float32TallOrWideEconomyTakesTheCheckedGramRoute) {
  std::string note;
  EXPECT_EQ(choose_route({300, 60000}, DType::kFloat32, with(Algorithm::kAuto, false), {}, &note),
            Route::kGram);
  RoutePolicy no_gram;
  no_gram.gram_in_auto = false;
  EXPECT_EQ(
      choose_route({300, 60000}, DType::kFloat32, with(Algorithm::kAuto, false), no_gram, &note),
      Route::kQr);
  EXPECT_EQ(choose_route({500, 500}, DType::kFloat32, with(Algorithm::kGram), {}, &note),
            Route::kGram);
  EXPECT_EQ(note, "");
}

TEST(RouteChoiceTest, RefinedGramRouteForFloat64OnlyWhenForcedOrEnabled) {
  std::string note;
  EXPECT_EQ(choose_route({1000, 1000}, DType::kFloat64, with(Algorithm::kGram), {}, &note),
            Route::kGram);
  EXPECT_EQ(choose_route({300, 6000}, DType::kFloat64, with(Algorithm::kGram, false), {}, &note),
            Route::kGram);
  EXPECT_EQ(note, "");
  RoutePolicy large;
  large.gram_for_large = true;
  EXPECT_EQ(choose_route({1000, 1000}, DType::kFloat64, with(Algorithm::kAuto), large, &note),
            Route::kGram);
  EXPECT_EQ(choose_route({1000, 1000}, DType::kFloat32, with(Algorithm::kAuto), large, &note),
            Route::kGram);
  EXPECT_EQ(
      choose_route({300, 60000}, DType::kFloat64, with(Algorithm::kAuto, false), large, &note),
      Route::kGram);
  // Small matrices stay on the Jacobi routes, full U of a non-square matrix on Xgesvd.
  EXPECT_EQ(choose_route({20, 20}, DType::kFloat64, with(Algorithm::kAuto), large, &note),
            Route::kGesvdjBatched);
  EXPECT_EQ(choose_route({1000, 40}, DType::kFloat64, with(Algorithm::kAuto), large, &note),
            Route::kQr);
}

TEST(RouteChoiceTest, GramSaysWhichRouteItUsedInstead) {
  std::string note;
  const Route r = choose_route({1000, 200}, DType::kFloat64, with(Algorithm::kGram), {}, &note);
  EXPECT_EQ(r, Route::kQr);
  EXPECT_NE(note.find("gram"), std::string::npos);
  EXPECT_NE(note.find(route_name(r)), std::string::npos);
}

TEST(RouteChoiceTest, GramWithAFullNonSquareUIsRefusedWithANote) {
  std::string note;  // the shape CudaOptionsTest.GramAlgorithmSaysWhichRouteItUsed relies on
  const Route r = choose_route({120, 40}, DType::kFloat64, with(Algorithm::kGram), {}, &note);
  EXPECT_NE(r, Route::kGram);
  EXPECT_NE(note.find(route_name(r)), std::string::npos) << note;
}

TEST(RouteChoiceTest, EmptyMatrixGoesToTheCpu) {
  EXPECT_EQ(choose_route({0, 5}, DType::kFloat64, with(Algorithm::kAuto), {}, nullptr),
            Route::kCpu);
}

TEST(RouteChoiceTest, RetriesEndOnTheCpu) {
  EXPECT_EQ(next_route(Route::kPolar), Route::kQr);
  EXPECT_EQ(next_route(Route::kGram), Route::kQr);
  EXPECT_EQ(next_route(Route::kGesvdj), Route::kQr);
  EXPECT_EQ(next_route(Route::kJacobiKernel), Route::kQr);
  EXPECT_EQ(next_route(Route::kGesvdjBatched), Route::kQr);
  EXPECT_EQ(next_route(Route::kQr), Route::kCpu);
}

TEST(GeometryTest, WideMatrixIsSolvedAsItsTransposeInPlace) {
  SvdOptions o;
  o.full_matrices = false;
  const Geometry g = make_geometry({3, 10}, o, Route::kPolar);
  EXPECT_FALSE(g.transposed);
  EXPECT_EQ(g.p, 10);
  EXPECT_EQ(g.q, 3);
  EXPECT_EQ(g.uc, 3);
  EXPECT_EQ(g.vr, 3);
  EXPECT_EQ(g.w_u_cols, 3);
}

TEST(GeometryTest, TallMatrixIsTransposedAndFullUKeepsEveryColumn) {
  const Geometry g = make_geometry({10, 3}, SvdOptions{}, Route::kQr);
  EXPECT_TRUE(g.transposed);
  EXPECT_EQ(g.p, 10);
  EXPECT_EQ(g.q, 3);
  EXPECT_EQ(g.uc, 10);
  EXPECT_EQ(g.vr, 3);
  EXPECT_EQ(g.w_u_cols, 10);
}

TEST(GeometryTest, BatchedJacobiAlwaysWritesFullU) {
  SvdOptions o;
  o.full_matrices = false;
  EXPECT_EQ(make_geometry({20, 8}, o, Route::kGesvdjBatched).w_u_cols, 20);
  EXPECT_EQ(make_geometry({20, 8}, o, Route::kJacobiKernel).w_u_cols, 8);
}

TEST(GeometryTest, ValuesOnlyKeepsTheSolverInEconomyMode) {
  SvdOptions o;
  o.values_only = true;
  const Geometry g = make_geometry({300, 60000}, o, Route::kPolar);
  EXPECT_TRUE(g.econ);
  EXPECT_FALSE(g.vectors);
  EXPECT_EQ(g.w_u_cols, 300);
}

}  // namespace
}  // namespace tandem::cuda
