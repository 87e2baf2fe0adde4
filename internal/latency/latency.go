// Package latency is the latency histogram of the usage figures (SPEC §13):
// fixed, log-spaced buckets shared by every edge, so that histograms from
// several edges and several minutes merge by adding bucket by bucket, and
// p50/p99 are read from the merged counts.
//
// Bucket 0 holds durations under Unit; above it, each power of two of Unit
// is split in two halves, [2^k, 1.5·2^k) and [1.5·2^k, 2^(k+1)), so a
// bucket is at most 50 % wider than the one below it and a percentile read
// from it is off by less than that. The last bucket holds everything from
// about 69 s up.
package latency

import (
	"math/bits"
	"time"
)

// Unit is the width of the first bucket: 65.536 µs (2^16 ns).
const Unit = time.Duration(1 << unitShift)

const unitShift = 16

// Buckets is the number of buckets of a histogram.
const Buckets = 42

// Index returns the bucket of duration d.
func Index(d time.Duration) int {
	if d < Unit {
		return 0
	}
	l := bits.Len64(uint64(d)) // d in [2^(l-1), 2^l) ns, l-1 ≥ unitShift
	half := int(uint64(d)>>(l-2)) & 1
	i := 2*(l-1-unitShift) + 1 + half
	if i >= Buckets {
		i = Buckets - 1
	}
	return i
}

// Bounds returns the lower and upper bound of bucket i; the last bucket's
// upper bound is its lower bound doubled, for interpolation only.
func Bounds(i int) (lo, hi time.Duration) {
	if i <= 0 {
		return 0, Unit
	}
	k := (i - 1) / 2 // buckets 2k+1 and 2k+2 split [2^k, 2^(k+1)) units
	base := Unit << k
	if i%2 == 1 { // lower half
		lo, hi = base, base+base/2
	} else {
		lo, hi = base+base/2, 2*base
	}
	if i == Buckets-1 {
		hi = 2 * lo
	}
	return lo, hi
}

// Add adds src to dst bucket by bucket; dst grows to Buckets when shorter.
func Add(dst, src []int64) []int64 {
	for len(dst) < len(src) {
		dst = append(dst, 0)
	}
	for i, v := range src {
		dst[i] += v
	}
	return dst
}

// Quantile returns the duration below which a fraction q (0 < q ≤ 1) of the
// observations in h fall, interpolated linearly inside the bucket that holds
// it; 0 when h is empty.
func Quantile(h []int64, q float64) time.Duration {
	var total int64
	for _, v := range h {
		total += v
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen int64
	for i, v := range h {
		if v == 0 {
			continue
		}
		if float64(seen+v) >= rank {
			lo, hi := Bounds(i)
			frac := (rank - float64(seen)) / float64(v)
			return lo + time.Duration(frac*float64(hi-lo))
		}
		seen += v
	}
	_, hi := Bounds(len(h) - 1)
	return hi
}
