package metrics

// The values of the attributes, for the tests of package metrics_test.
var (
	Methods       = methods[:]
	Outcomes      = outcomes[:]
	Results       = results[:]
	LoginOutcomes = loginOutcomes[:]
	Events        = events[:]
)
