"""How a finding states its figures: dollars to the cent and per month, numbers in
words, and the evidence chart. Plain functions over plain values: no queries."""
