package oidc_test

import (
	"context"
)

var ctx = context.Background()
