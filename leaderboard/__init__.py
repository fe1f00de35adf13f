"""factorbench.leaderboard."""
