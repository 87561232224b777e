"""dlbook のベンチマーク (テストではない): ``python -m benchmarks.run``。"""
