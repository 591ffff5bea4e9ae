module helhet/bench/loadgen

go 1.22
