//go:build !race

package admin

import "testing"

// The cost of a list request must not grow with the broker: walking the
// clients allocates nothing per client, only the page and the iterator's
// closures, the same for 100 clients as for 10,000.
func TestPaginateAllocatesOnlyThePage(t *testing.T) {
	var per [2]float64
	for i, n := range []int{100, 10_000} {
		b := newFakeBroker(n)
		match := func(c *Client) bool { return containsFold(c.ID, "CLIENT-00") }
		per[i] = testing.AllocsPerRun(20, func() {
			p := paginate(b.Clients(), match, 1, 5)
			if p.Total != 10 || len(p.Items) != 5 {
				t.Fatalf("total=%d items=%d", p.Total, len(p.Items))
			}
		})
	}
	if per[0] != per[1] || per[1] > 8 {
		t.Fatalf("allocations per page: %v with 100 clients, %v with 10,000; want the same small constant", per[0], per[1])
	}
}
