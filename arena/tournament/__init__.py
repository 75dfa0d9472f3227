"""The tournament: the loop over a schedule's matchings, cross-play, ratings, selection,
mixtures and the leaderboard."""
