package router

// MatchTopic reports whether topic matches filter: "+" matches exactly one
// level, a final "#" matches the parent level and any number of levels below
// it, and topics starting with '$' never match filters whose first level is a
// wildcard [MQTT-4.7.2-1]. A "$share/<group>/" prefix is not understood here:
// pass the filter part. It never allocates.
func MatchTopic(filter, topic string) bool {
	if len(topic) > 0 && topic[0] == '$' && len(filter) > 0 && (filter[0] == '+' || filter[0] == '#') {
		return false // [MQTT-4.7.2-1]
	}
	fi, ti := 0, 0
	for {
		fe := indexSlash(filter, fi)
		fl := filter[fi:fe]
		if fl == "#" && fe == len(filter) {
			return true // "#" is last: matches the rest, including nothing [MQTT-4.7.1-1]
		}
		if ti > len(topic) { // topic exhausted but filter has more levels
			return false
		}
		te := indexSlash(topic, ti)
		if fl != "+" && fl != topic[ti:te] {
			return false
		}
		fi, ti = fe+1, te+1
		if fi > len(filter) {
			return ti > len(topic)
		}
	}
}

// indexSlash returns the index of the next '/' at or after i, or len(s).
func indexSlash(s string, i int) int {
	for ; i < len(s); i++ {
		if s[i] == '/' {
			return i
		}
	}
	return len(s)
}
