"""Contracts: hiring a freelancer, the Statement of Work both sign, and ending the contract.

The money of a contract is its engagement's (an ``orders.Order`` of kind ``contract``,
worked by the milestone engine in ``app/orders/milestones.py``). Design:
docs/design/jobs-and-contracts.md.
"""
