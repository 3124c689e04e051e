//go:build !race

package admin

import "testing"

// The cost of a list request must not grow with the broker: walking the
// clients allocates nothing per client, only the one page.
func TestPaginateAllocatesOnlyThePage(t *testing.T) {
	for _, n := range []int{100, 10_000} {
		b := newFakeBroker(n)
		match := func(c *Client) bool { return containsFold(c.ID, "CLIENT-00") }
		allocs := testing.AllocsPerRun(20, func() {
			p := paginate(b.Clients(), match, 1, 5)
			if p.Total != 10 || len(p.Items) != 5 {
				t.Fatalf("total=%d items=%d", p.Total, len(p.Items))
			}
		})
		if allocs > 4 {
			t.Errorf("clients=%d: %v allocations per page, want a constant <= 4", n, allocs)
		}
	}
}
